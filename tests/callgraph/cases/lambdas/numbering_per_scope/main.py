def inc(x):
    return x + 1


def dec(x):
    return x - 1


up = lambda x: inc(x)
down = lambda x: dec(x)


def pick(flag):
    f = lambda x: up(x)
    g = lambda x: down(x)
    return f if flag else g


up(1)
pick(True)(1)
pick(False)(1)
down(1)
