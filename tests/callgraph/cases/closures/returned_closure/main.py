def make_adder(n):
    def add(x):
        return offset(x) + n
    return add


def offset(x):
    return x + 1


add5 = make_adder(5)
add5(1)
