def risky():
    raise KeyError("k")


def cleanup():
    return "clean"


def log_error():
    return "logged"


def run():
    try:
        risky()
    except KeyError:
        log_error()
    finally:
        cleanup()


run()
