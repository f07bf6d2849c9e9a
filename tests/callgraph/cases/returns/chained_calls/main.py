def level1():
    return level2


def level2():
    return level3


def level3():
    return "bottom"


level1()()()
