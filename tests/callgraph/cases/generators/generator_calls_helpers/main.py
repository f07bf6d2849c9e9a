def transform(x):
    return x * 2


def produce(n):
    for i in range(n):
        yield transform(i)


for v in produce(3):
    pass
