class Service:
    def __init__(self, name):
        self.name = name

    def start(self):
        return self.name + " started"
