class Robot:
    def walk(self):
        return "walk"

    def talk(self):
        return "talk"


r = Robot()
getattr(r, "walk")()
method = getattr(r, "talk", None)
method()
