from flask import Flask, request

from models import User, db

app = Flask(__name__)


@app.post("/api/users")
def create_user():
    user = User(**request.get_json())
    db.session.add(user)
    db.session.commit()
    return {"id": user.id}
