import os

from flask import Flask, request

app = Flask(__name__)
app.secret_key = os.environ["SECRET_KEY"]
