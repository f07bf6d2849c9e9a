def repeat(times):
    def decorate(func):
        def wrapper():
            for _ in range(times):
                func()
        return wrapper
    return decorate


@repeat(2)
def tick():
    return "tick"


tick()
