from flask import Flask, request

app = Flask(__name__)


@app.get("/users")
def users(db):
    return db.execute("SELECT * FROM users WHERE name = ?", (request.args["name"],)).fetchall()
