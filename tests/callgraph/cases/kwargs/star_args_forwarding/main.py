def target(a, b, c=0):
    return a + b + c


def forward(*args, **kwargs):
    return target(*args, **kwargs)


def invoke(fn, *args, **kwargs):
    return fn(*args, **kwargs)


forward(1, 2, c=3)
params = {"a": 1, "b": 2}
target(**params)
invoke(forward, 1, b=2)
