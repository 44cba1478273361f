from jinja2 import Environment

env = Environment(autoescape=True)
HEADER = "<h1>{{ title }}</h1>"
FOOTER = "<footer>{{ year }}</footer>"
PAGE = env.from_string(HEADER + FOOTER)
