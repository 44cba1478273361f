from flask import Flask, request

app = Flask(__name__)


@app.get("/users")
def users(db):
    query = "SELECT * FROM users WHERE name = '%s'" % request.args["name"]
    return db.execute(query).fetchall()
