class Base:
    def __init__(self):
        self.items = []

    def add(self, x):
        self.items = self.items + [x]


class Derived(Base):
    def __init__(self):
        Base.__init__(self)

    def add(self, x):
        Base.add(self, x)


d = Derived()
d.add(1)
