def cyan():
    return "c"


def red():
    return "r"


def green():
    return "g"


def blue():
    return "b"


colors = [cyan, green]
colors[1]()
first, second = cyan, red
second()
x, (y, z) = (cyan, (cyan, blue))
z()
