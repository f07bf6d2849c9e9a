def slug(s):
    return "-" + s


def title(s):
    return s
