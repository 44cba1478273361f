from flask import Flask, request
from pymongo import MongoClient

app = Flask(__name__)
users = MongoClient()["shop"]["users"]


@app.post("/login")
def login():
    data = request.get_json()
    user = users.find_one({"username": data["username"], "password": data["password"]})
    return {"ok": user is not None}
