def fast():
    return "fast"


def slow():
    return "slow"


def choose(speed):
    if speed > 1:
        return fast
    return slow


choose(2)()
choose(0)()
