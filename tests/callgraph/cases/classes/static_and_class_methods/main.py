class Factory:
    def __init__(self, size):
        self.size = size

    @staticmethod
    def default_size():
        return 3

    @classmethod
    def create(cls):
        return cls(cls.default_size())


f = Factory.create()
Factory.default_size()
