class Plain:
    def __init__(self):
        super().__init__()
        self.ready = True


Plain()
