import os

from flask import Flask, request
from werkzeug.utils import secure_filename

app = Flask(__name__)


@app.post("/upload")
def upload():
    file = request.files["file"]
    if file.filename == "":
        return {"error": "no file"}, 400
    file.save(os.path.join("uploads", secure_filename(file.filename)))
    return {"ok": True}
