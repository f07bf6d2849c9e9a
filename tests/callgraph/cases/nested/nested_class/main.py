class Outer:
    class Inner:
        def __init__(self):
            self.v = 1

        def value(self):
            return self.v

    def make(self):
        return self.Inner().value()


Outer().make()
Outer.Inner().value()
