def deep():
    return "deep"


def deeper():
    return "deeper"
