import tempfile


def export(rows):
    path = tempfile.mktemp(suffix=".csv")
    with open(path, "w") as out:
        out.write("\n".join(rows))
    with open("/tmp/export.csv", "w") as out:
        out.write("\n".join(rows))
    return path
