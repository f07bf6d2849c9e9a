class A:
    def __init__(self):
        self.name = "a"

    def go(self):
        return self.name


class B:
    def go(self):
        return "b"


def pick(flag):
    return A if flag else B


pick(True)().go()
pick(False)().go()
