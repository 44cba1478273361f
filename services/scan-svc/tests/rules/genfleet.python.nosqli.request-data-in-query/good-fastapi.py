from fastapi import FastAPI
from pydantic import BaseModel
from pymongo import MongoClient

app = FastAPI()
users = MongoClient()["shop"]["users"]


class Login(BaseModel):
    name: str
    password: str


@app.post("/login")
async def login(body: Login):
    return {"ok": users.find_one({"name": str(body.name)}) is not None}
