from flask import Flask, redirect, request, url_for

app = Flask(__name__)


@app.get("/login/done")
def done():
    page = request.args.get("next", "index")
    return redirect(url_for(page if page in ("index", "profile") else "index"))
