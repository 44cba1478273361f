import tempfile


def export(rows):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as out:
        out.write("\n".join(rows))
    return out.name
