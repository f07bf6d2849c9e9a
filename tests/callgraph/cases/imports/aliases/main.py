import tools as t
import tools.fmt as f
from tools import fmt as formatting
from tools.fmt import underline as ul

t.version()
f.bold("a")
formatting.italic("b")
alias = ul
alias("c")
