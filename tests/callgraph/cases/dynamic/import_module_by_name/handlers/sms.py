def handle():
    return "sms"
