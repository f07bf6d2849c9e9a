class Plain:
    def value(self):
        return 1


class WithInit:
    def __init__(self):
        self.v = 2


class Child(WithInit):
    pass


p = Plain()
p.value()
WithInit()
Child()
