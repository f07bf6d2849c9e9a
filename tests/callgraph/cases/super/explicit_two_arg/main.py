class A:
    def f(self):
        return 1


class B(A):
    def f(self):
        return 2


class C(B):
    def f(self):
        return super(B, self).f()


C().f()
