def first(func):
    def first_wrapper():
        return func()
    return first_wrapper


def second(func):
    def second_wrapper():
        return func()
    return second_wrapper


def tag(cls):
    cls.tagged = True
    return cls


@first
@second
def core():
    return 1


@tag
class Thing:
    def method(self):
        return core()


Thing().method()
