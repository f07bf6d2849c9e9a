from typing import Optional, Union


class Engine:
    def start(self):
        return "vroom"


class Radio:
    def start(self):
        return "music"

    def tune(self):
        return 101.1


class Car:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.radio: Radio = make_radio()

    def drive(self):
        self.engine.start()
        self.radio.tune()


def make_radio():
    return Radio()


def ignite(engine: Engine, spare: Optional[Engine] = None, later: "Engine | None" = None):
    engine.start()
    if spare is not None:
        spare.start()
    if later is not None:
        later.start()


def either(device: Union[Engine, Radio]):
    device.start()


def tune_only(device: Engine | Radio):
    device.tune()


def not_a_class(count: int, engines: list[Engine]):
    count.bit_length()
    return [e for e in engines]


ignite(Engine(), Engine(), Engine())
either(Radio())
tune_only(Radio())
Car(Engine()).drive()
not_a_class(3, [Engine()])
