def log(func):
    def wrapper(*args):
        print("calling")
        return func(*args)
    return wrapper


@log
def work(x):
    return x + 1


work(1)
