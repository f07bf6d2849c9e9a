def double(x):
    return x * 2


twice = lambda x: double(double(x))
twice(3)
