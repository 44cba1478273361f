import requests
from flask import Flask, request

app = Flask(__name__)


@app.get("/preview")
def preview():
    return requests.get(request.args["url"], timeout=5).text
