import requests
from flask import Flask, request

app = Flask(__name__)


@app.get("/preview")
def preview():
    return requests.get(
        "https://api.example.org/preview", params={"id": request.args["id"]}, timeout=5
    ).text
