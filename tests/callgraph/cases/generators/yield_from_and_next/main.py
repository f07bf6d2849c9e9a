def leaf():
    return 1


def inner():
    yield leaf()


def outer():
    yield from inner()
    yield 2


g = outer()
next(g)
next(g)
