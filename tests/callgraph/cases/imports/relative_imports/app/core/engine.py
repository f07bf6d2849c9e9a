from . import parts
from .parts import gear
from ..util import slug
from .. import util


def run():
    parts.bolt()
    gear()
    slug("x")
    util.title("y")
