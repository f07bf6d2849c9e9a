import json
import collections
from collections import OrderedDict as OD


def encode():
    data = collections.OrderedDict()
    other = OD()
    counts = collections.Counter("abca")
    return json.dumps({"n": 1}), json.loads("[1]"), data, other, counts


encode()
