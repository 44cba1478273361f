import os

from flask import Flask, request

app = Flask(__name__)


@app.get("/files")
def read_file():
    with open(os.path.join("/srv/files", request.args["name"])) as f:
        return f.read()
