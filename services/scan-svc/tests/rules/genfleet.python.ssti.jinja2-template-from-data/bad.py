import jinja2
from flask import Flask, request

app = Flask(__name__)


@app.get("/greet")
def greet():
    name = request.args.get("name", "")
    return jinja2.Template("<p>Hello " + name + "</p>").render()
