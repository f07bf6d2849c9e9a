def make_default():
    return 10


def default_factory():
    return []


def custom():
    return [1]


def build(limit=make_default(), factory=default_factory):
    return factory()


build()
build(factory=custom)
