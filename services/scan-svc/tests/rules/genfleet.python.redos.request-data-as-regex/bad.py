import re

from flask import Flask, request

app = Flask(__name__)
NAMES = ["alice", "bob"]


@app.get("/find")
def find():
    pattern = re.compile(request.args.get("q", ""))
    return {"names": [n for n in NAMES if pattern.search(n)]}
