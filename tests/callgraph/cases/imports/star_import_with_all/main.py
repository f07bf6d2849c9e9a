def hidden():
    return "main's own"


from helpers import *

public()
hidden()
