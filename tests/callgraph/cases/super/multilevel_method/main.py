class A:
    def render(self):
        return "a"


class B(A):
    def render(self):
        return super().render() + "b"


class C(B):
    def render(self):
        return super().render() + "c"


C().render()
