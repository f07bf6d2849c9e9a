from animals.dog import Dog
from animals.base import Animal

Dog("rex").describe()
Animal("generic").describe()
