from .square import Square
