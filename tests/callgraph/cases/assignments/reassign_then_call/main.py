def first():
    return 1


def second():
    return 2


x = first
x()
x = second
x()
