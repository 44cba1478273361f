from flask import Flask, redirect, request, session

app = Flask(__name__)


@app.route("/profile", methods=["POST"])
def update_profile():
    email = request.form["email"]
    session["email"] = email
    return redirect("/profile")
