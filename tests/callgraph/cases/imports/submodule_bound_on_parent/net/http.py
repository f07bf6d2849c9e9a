from . import codec


def get():
    return codec.decode("x")
