def bold(s):
    return "*" + s + "*"


def italic(s):
    return "_" + s + "_"


def underline(s):
    return s
