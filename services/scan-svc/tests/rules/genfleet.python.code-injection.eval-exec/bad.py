from flask import Flask, request

app = Flask(__name__)


@app.get("/calc")
def calc():
    return str(eval(request.args["expr"]))
