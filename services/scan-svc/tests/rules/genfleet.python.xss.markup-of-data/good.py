from flask import Flask
from markupsafe import Markup

app = Flask(__name__)


@app.get("/bio")
def bio():
    return Markup("<b>static</b>")
