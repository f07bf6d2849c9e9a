from .registry import register


def discover():
    register("builtin")


discover()
