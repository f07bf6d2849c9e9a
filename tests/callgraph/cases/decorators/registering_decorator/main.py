HANDLERS = {}


def handler(name):
    def register(func):
        HANDLERS[name] = func
        return func
    return register


@handler("greet")
def greet():
    return "hello"


@handler("bye")
def bye():
    return "bye"


greet()
HANDLERS["bye"]()
