from flask import Flask, jsonify
from flask_login import login_required

app = Flask(__name__)
USERS = []


@app.delete("/api/admin/users/<int:user_id>")
@login_required
def delete_user(user_id):
    USERS.pop(user_id)
    return jsonify({"deleted": user_id})


@app.get("/api/users")
def list_users():
    return jsonify(USERS)
