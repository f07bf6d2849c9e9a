import importlib


def run(kind):
    module = importlib.import_module("handlers." + kind)
    return module.handle()


run("email")
run("sms")
