import ast

from flask import Flask, request

app = Flask(__name__)


@app.get("/calc")
def calc():
    return str(ast.literal_eval(request.args["expr"]))
