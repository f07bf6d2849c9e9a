def call_twice(fn):
    fn()
    fn()


def outer(fn):
    call_twice(fn)


def ping():
    return "ping"


outer(ping)
