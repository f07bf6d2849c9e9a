def helper():
    return "module"


def a():
    def helper():
        return leaf()
    return helper()


def b():
    return helper()


def leaf():
    return 1


a()
b()
