import lib.core as core


class Turbo(core.Engine):
    def ignite(self):
        return "whoosh"


class Plain(core.Engine):
    pass


Turbo().start()
Plain().start()
