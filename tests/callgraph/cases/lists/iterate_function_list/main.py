def load():
    return 1


def check():
    return 2


def save():
    return 3


PIPELINE = [load, check, save]


def run():
    for step in PIPELINE:
        step()


run()
