from .base import Animal
from .mixins import LoudMixin


class Dog(LoudMixin, Animal):
    pass
