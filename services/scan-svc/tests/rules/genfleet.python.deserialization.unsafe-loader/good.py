import json

from flask import Flask, request

app = Flask(__name__)


@app.post("/import")
def import_data():
    return {"items": len(json.loads(request.get_data()))}
