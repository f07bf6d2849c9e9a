class Numbers:
    def __init__(self, n):
        self.n = n

    def evens(self):
        for i in range(self.n):
            if self.keep(i):
                yield i

    def keep(self, i):
        return i % 2 == 0


def square(x):
    return x * x


total = sum(square(x) for x in Numbers(5).evens())
