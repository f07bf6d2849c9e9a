def base():
    return 0


def compute(f=lambda: base()):
    return f()


class Config:
    loader = lambda self: base()


compute()
Config().loader()
