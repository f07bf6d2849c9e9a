class Engine:
    def __init__(self):
        self.ready = True

    def start(self):
        return self.ignite()

    def ignite(self):
        return "vroom"
