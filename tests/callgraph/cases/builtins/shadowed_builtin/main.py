def len(obj):
    return 42


def measure():
    return len([1, 2])


measure()
print(len("abc"))
