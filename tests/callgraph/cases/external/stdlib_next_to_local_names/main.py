import math
import textwrap
from itertools import chain


def sqrt(x):
    return "local sqrt"


def compute():
    return math.sqrt(16), sqrt(16), textwrap.dedent("  x"), chain([1], [2])


compute()
