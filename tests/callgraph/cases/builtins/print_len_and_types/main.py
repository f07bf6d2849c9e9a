def describe(items):
    print(len(items))
    return sorted(items)


def convert(text):
    n = int(text)
    return list(range(n)), str(n)


describe([3, 1, 2])
convert("3")
isinstance(3, int)
print("done")
