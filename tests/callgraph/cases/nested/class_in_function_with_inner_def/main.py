def build():
    class Local:
        def run(self):
            def step():
                return 2
            return step()
    return Local()


build().run()
