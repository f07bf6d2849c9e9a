def handle():
    return "email"
