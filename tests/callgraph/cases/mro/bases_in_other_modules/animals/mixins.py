class LoudMixin:
    def sound(self):
        return "LOUD"
