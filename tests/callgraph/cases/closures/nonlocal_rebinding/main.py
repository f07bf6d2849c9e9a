def start():
    return "start"


def stop():
    return "stop"


def machine():
    action = start

    def toggle():
        nonlocal action
        result = action()
        action = stop
        return result
    return toggle


t = machine()
t()
t()
