from fastapi import FastAPI, Request
from pymongo import MongoClient

app = FastAPI()
users = MongoClient()["shop"]["users"]


@app.post("/login")
async def login(request: Request):
    body = await request.json()
    return {"ok": users.find_one({"name": body["name"], "password": body["password"]}) is not None}
