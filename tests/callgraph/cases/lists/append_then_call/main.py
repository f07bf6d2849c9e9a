def a():
    return 1


def b():
    return 2


registry = []


def register(fn):
    registry.append(fn)


def run_all():
    for fn in registry:
        fn()


register(a)
register(b)
run_all()
