class Model:
    def __init__(self, data):
        self.data = data

    @classmethod
    def build(cls, data):
        return cls(data)


class User(Model):
    @classmethod
    def build(cls, data):
        return super().build(data)


User.build(1)
