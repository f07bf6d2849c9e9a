class Greeter:
    def __init__(self, name):
        self.name = name
        self.prepare()

    def prepare(self):
        self.greeting = self.build()

    def build(self):
        return "hi " + self.name

    def greet(self):
        return self.greeting


g = Greeter("bob")
g.greet()
