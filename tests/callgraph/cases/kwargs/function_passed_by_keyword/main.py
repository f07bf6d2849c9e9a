def run(task, *, on_error, on_success):
    result = task()
    if result:
        return on_success(result)
    return on_error()


def ok():
    return 1


def fail():
    return 0


def good(r):
    return r


def bad():
    return None


run(ok, on_success=good, on_error=bad)
run(task=fail, on_error=bad, on_success=good)
