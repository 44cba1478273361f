import logging

from flask import Flask, request

app = Flask(__name__)
log = logging.getLogger(__name__)


@app.post("/login")
def login():
    user = request.form.get("user", "")
    log.info("login attempt for %s", repr(user))
    return {"ok": False}
