from flask import Flask, redirect, request, session
from flask_wtf.csrf import CSRFProtect

app = Flask(__name__)
csrf = CSRFProtect(app)


@app.route("/profile", methods=["POST"])
def update_profile():
    email = request.form["email"]
    session["email"] = email
    return redirect("/profile")
