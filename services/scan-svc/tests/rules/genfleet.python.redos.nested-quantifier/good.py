import re

EMAIL = re.compile("^[a-zA-Z0-9_.-]+@example\\.org$")
