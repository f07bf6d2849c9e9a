def traced(func):
    def inner(self):
        return func(self)
    return inner


class Job:
    @traced
    def run(self):
        return self.finish()

    def finish(self):
        return "ok"


Job().run()
