from flask import Flask, jsonify

app = Flask(__name__)
USERS = []


@app.delete("/api/admin/users/<int:user_id>")
def delete_user(user_id):
    USERS.pop(user_id)
    return jsonify({"deleted": user_id})
