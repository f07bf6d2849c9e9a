import os
import os.path
import os.path as osp
from os import path
from os.path import join as pjoin


def build():
    a = os.path.join("a", "b")
    b = osp.join("c", "d")
    c = path.join("e", "f")
    d = pjoin("g", "h")
    return os.path.basename(a), b, c, d


build()
