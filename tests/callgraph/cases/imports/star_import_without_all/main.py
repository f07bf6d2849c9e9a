def _private():
    return "main"


def area():
    return "shadowed by the star import"


from geometry import *

area()
perimeter()
_private()
