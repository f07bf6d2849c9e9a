class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, step):
        self.n = self.n + step
        return self.current()

    def current(self):
        return self.n


c = Counter()
c(2)
