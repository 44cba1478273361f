import traceback

from flask import Flask, request

app = Flask(__name__)


@app.get("/report")
def report():
    try:
        return {"value": 1 / int(request.args.get("n", "0"))}
    except ZeroDivisionError:
        app.logger.error("report failed: %s", traceback.format_exc())
        return {"error": "report failed"}, 500
