def decode(s):
    return s
