def alpha():
    return "a"


def beta():
    return "b"


def steps():
    yield alpha
    yield beta


def run():
    for step in steps():
        step()


run()
