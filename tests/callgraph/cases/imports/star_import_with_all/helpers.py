__all__ = ["public"]


def public():
    return "public"


def hidden():
    return "not exported by the star import"
