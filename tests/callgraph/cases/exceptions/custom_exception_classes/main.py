class AppError(Exception):
    def __init__(self, code):
        self.code = code

    def describe(self):
        return "error %d" % self.code


class PlainError(Exception):
    pass


def fail(kind):
    if kind:
        raise AppError(2)
    raise PlainError("x")


def handle():
    try:
        fail(True)
    except AppError as e:
        e.describe()
    try:
        fail(False)
    except PlainError:
        pass


handle()
