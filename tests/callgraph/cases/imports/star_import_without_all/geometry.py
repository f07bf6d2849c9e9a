def area():
    return 1


def _private():
    return "underscore names are not exported"


def perimeter():
    return _private()
