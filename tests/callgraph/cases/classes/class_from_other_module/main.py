from shapes import Square
import shapes.square

s = Square(2)
s.area()
t = shapes.square.Square(3)
t.area()
