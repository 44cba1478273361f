from flask import Flask, request
from pymongo import MongoClient

app = Flask(__name__)
users = MongoClient()["shop"]["users"]


@app.post("/login")
def login():
    data = request.get_json()
    user = users.find_one({"username": str(data["username"]), "password": str(data["password"])})
    return {"ok": user is not None}
