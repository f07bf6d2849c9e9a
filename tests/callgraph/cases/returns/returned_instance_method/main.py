class Conn:
    def __init__(self, host):
        self.host = host

    def query(self):
        return self.host


def connect(host):
    return Conn(host)


connect("db").query()
