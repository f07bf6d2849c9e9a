class A:
    def __init__(self):
        self.x = 1

    def hello(self):
        return "a"


class B(A):
    pass


class C(B):
    def other(self):
        return self.hello()


c = C()
c.other()
c.hello()
