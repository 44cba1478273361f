from flask import Flask, request

app = Flask(__name__)


@app.get("/users")
def users(db):
    query = "SELECT * FROM users WHERE name = ?"
    return db.execute(query, (request.args["name"],)).fetchall()
