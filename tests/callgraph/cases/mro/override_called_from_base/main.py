class Base:
    def run(self):
        return self.step()

    def step(self):
        return "base"


class Sub(Base):
    def step(self):
        return "sub"


Sub().run()
