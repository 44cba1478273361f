from flask import Flask, redirect, request

app = Flask(__name__)


@app.get("/login/done")
def done():
    return redirect(request.args.get("next", "/"))
