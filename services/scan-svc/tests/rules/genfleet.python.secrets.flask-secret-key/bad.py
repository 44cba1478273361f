from flask import Flask, request

app = Flask(__name__)
app.secret_key = "s3cr3t-in-the-code"
