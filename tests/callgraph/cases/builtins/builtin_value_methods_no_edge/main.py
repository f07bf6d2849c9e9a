def collect():
    parts = []
    parts.append("a")
    parts.extend(["b", "c"])
    joined = ",".join(parts)
    table = {"k": joined}
    return table.get("k").upper()


collect()
