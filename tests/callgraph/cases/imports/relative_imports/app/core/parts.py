def bolt():
    return "bolt"


def gear():
    return "gear"
