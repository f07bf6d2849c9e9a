def on_done():
    return "done"


class Task:
    def __init__(self, callback):
        self.callback = callback

    def finish(self):
        return self.callback()


Task(on_done).finish()
