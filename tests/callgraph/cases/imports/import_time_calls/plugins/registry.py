NAMES = []


def register(name):
    NAMES.append(name)
    return name
