import os

from flask import Flask, request
from werkzeug.utils import secure_filename

app = Flask(__name__)
ALLOWED = {"png", "jpg", "pdf"}


def allowed_file(name):
    return "." in name and name.rsplit(".", 1)[1].lower() in ALLOWED


@app.post("/upload")
def upload():
    file = request.files["file"]
    if not allowed_file(file.filename):
        return {"error": "file type not allowed"}, 400
    file.save(os.path.join("uploads", secure_filename(file.filename)))
    return {"ok": True}
