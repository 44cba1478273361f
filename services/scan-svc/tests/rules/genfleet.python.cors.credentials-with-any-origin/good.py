from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from flask import Flask
from flask_cors import CORS

app = Flask(__name__)
CORS(app, origins=["https://app.example.org"], supports_credentials=True)

api = FastAPI()
api.add_middleware(
    CORSMiddleware, allow_origins=["https://app.example.org"], allow_credentials=True
)
