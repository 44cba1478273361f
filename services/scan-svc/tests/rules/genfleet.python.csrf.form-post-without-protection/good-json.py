from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/api/profile", methods=["POST"])
def update_profile():
    return jsonify(request.get_json())
