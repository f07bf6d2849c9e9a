def compose(f, g):
    def composed(x):
        return f(g(x))
    return composed


def add1(x):
    return x + 1


def times3(x):
    return x * 3


h = compose(add1, times3)
h(2)
