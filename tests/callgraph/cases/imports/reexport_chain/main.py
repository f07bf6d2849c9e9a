import pkg
from pkg import helper
from pkg.api import helper as h2

pkg.helper()
helper()
h2()
