from core import Service


class WebService(Service):
    def __init__(self):
        super().__init__("web")

    def start(self):
        return "[" + super().start() + "]"


WebService().start()
