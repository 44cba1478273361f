from flask import Flask, request
from markupsafe import Markup

app = Flask(__name__)


@app.get("/bio")
def bio():
    return Markup(request.args["html"])
