def check(x):
    if x < 0:
        raise ValueError("negative")
    return x


def recover():
    return 0


def safe(x):
    try:
        return check(x)
    except ValueError:
        return recover()


safe(1)
safe(-1)
