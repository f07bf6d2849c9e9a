def leaf():
    return 1


value = (lambda: leaf())()
make = lambda: lambda: leaf()
make()()
