def apply(fn, value):
    return fn(value)


def square(x):
    return x * x


def negate(x):
    return -x


apply(square, 2)
apply(negate, 2)
