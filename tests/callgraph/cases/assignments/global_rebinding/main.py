def a():
    return "a"


def b():
    return "b"


fn = a


def switch():
    global fn
    fn = b


def run():
    return fn()


run()
switch()
run()
