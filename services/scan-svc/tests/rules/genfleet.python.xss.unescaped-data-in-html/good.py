from flask import Flask, request
from markupsafe import escape

app = Flask(__name__)


@app.get("/hello")
def hello():
    return f"<h1>Hello {escape(request.args.get('name', ''))}</h1>"
