def on_start():
    return "s"


def on_stop():
    return "t"


def fallback():
    return "?"


handlers = {"start": on_start}
handlers["stop"] = on_stop


def dispatch(event):
    handler = handlers.get(event, fallback)
    return handler()


dispatch("start")
dispatch("stop")
dispatch("other")
