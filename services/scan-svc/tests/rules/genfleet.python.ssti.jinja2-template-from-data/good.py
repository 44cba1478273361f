import jinja2
from flask import Flask, request

app = Flask(__name__)
GREETING = jinja2.Template("<p>Hello {{ name }}</p>", autoescape=True)


@app.get("/greet")
def greet():
    return GREETING.render(name=request.args.get("name", ""))
