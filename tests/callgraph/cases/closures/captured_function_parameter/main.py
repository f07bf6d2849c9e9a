def shout(s):
    return s + "!"


def whisper(s):
    return s + "..."


def with_style(style):
    def speak(text):
        return style(text)
    return speak


with_style(shout)("hi")
with_style(whisper)("hi")
