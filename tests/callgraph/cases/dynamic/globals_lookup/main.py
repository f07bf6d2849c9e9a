def cmd_start():
    return "start"


def cmd_stop():
    return "stop"


def dispatch(name):
    return globals()["cmd_" + name]()


dispatch("start")
dispatch("stop")
