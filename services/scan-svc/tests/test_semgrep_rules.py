# The examples keep their markers on the line they mark: long lines are part of them.
# ruff: noqa: E501
"""GenFleet's semgrep rule pack (scan_svc/rules/*.yml), rule by rule: each example line marked
`ruleid: <rule>` must be reported by that rule and each `ok: <rule>` must not (a rule is named
by the end of its id). The examples are code written for these tests; they run through the real
SemgrepTool, offline. Line by line and side by side in one file; every rule's own bad/good pair
(and the check that every rule has one, with its metadata) is in test_rule_corpus.py."""

from __future__ import annotations

import re

import pytest

from genfleet_common.messages import ToolStatus
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.semgrep import SemgrepTool

MARK = re.compile(r"(?:#|//) (ruleid|ok): (\S+)")

PYTHON_CASES = r"""import hashlib
import os
import pickle
import random
import subprocess
import traceback

import requests
import yaml
from Crypto.Cipher import AES, DES
from flask import Flask, Markup, make_response, render_template_string, request, send_file
from flask_cors import CORS
from markupsafe import escape

app = Flask(__name__)
CORS(app)  # ruleid: cors.any-origin
CORS(app, origins=["https://example.org"])  # ok: cors.any-origin
app.secret_key = "s3cr3t-k3y-in-code"  # ruleid: secrets.flask-secret-key
app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]  # ok: secrets.flask-secret-key
DB_PASSWORD = "hunter2hunter2"  # ruleid: secrets.credential-in-variable
API_KEY = os.environ.get("API_KEY", "")  # ok: secrets.credential-in-variable
PASSWORD_FIELD = "password"  # ok: secrets.credential-in-variable
AWS_KEY = "AKIAABCDEFGHIJKLMNOP"  # ruleid: secrets.aws-access-key
SIGNING_KEY = "-----BEGIN EC PRIVATE KEY-----MHcCAQEEIGenFleetTestOnly"  # ruleid: secrets.private-key


@app.route("/users")
def users(db):
    name = request.args.get("name", "")
    query = "SELECT * FROM users WHERE name = '%s'" % name  # ruleid: sqli.query-built-then-executed
    db.execute(query)
    db.execute("SELECT * FROM users WHERE name = '" + name + "'")  # ruleid: sqli.query-built-in-execute
    db.execute("SELECT * FROM users WHERE name = ?", (name,))  # ok: sqli.query-built-in-execute
    db.execute(f"DELETE FROM users WHERE id = {int(name)}")  # ruleid: sqli.query-built-in-execute
    return "ok"


@app.route("/hello")
def hello():
    name = request.args.get("name", "")
    page = f"<h1>Hello {name}</h1>"  # ruleid: xss.unescaped-data-in-html
    safe = f"<h1>Hello {escape(name)}</h1>"  # ok: xss.unescaped-data-in-html
    plain = f"Hello {name}"  # ok: xss.unescaped-data-in-html
    return page + safe + plain


@app.route("/hi/<who>")
def hi(who):
    return "<p>Hi " + who + "</p>"  # ruleid: xss.unescaped-data-in-html


@app.route("/tpl")
def tpl():
    name = request.args.get("name", "")
    render_template_string("<p>{{ x }}</p>", x=name)  # ok: xss.render-template-string
    return render_template_string("<p>" + name + "</p>")  # ruleid: xss.render-template-string


@app.route("/markup")
def markup():
    return Markup(request.args["html"])  # ruleid: xss.markup-of-data


@app.route("/run")
def run():
    cmd = request.args.get("cmd", "")
    subprocess.run(f"ls {cmd}", shell=True)  # ruleid: cmdi.subprocess-shell
    subprocess.run(["ls", cmd])  # ok: cmdi.subprocess-shell
    subprocess.run("ls -l", shell=True)  # ok: cmdi.subprocess-shell
    os.system("ls " + cmd)  # ruleid: cmdi.os-system
    os.system("ls")  # ok: cmdi.os-system
    return "ok"


@app.route("/file")
def file():
    name = request.args.get("name", "")
    open(os.path.join("/data", os.path.basename(name)))  # ok: path-traversal.request-data-in-path
    with open(os.path.join("/data", name)) as f:  # ruleid: path-traversal.request-data-in-path
        f.read()
    return send_file("/data/" + name)  # ruleid: path-traversal.request-data-in-path


@app.route("/calc")
def calc():
    expr = request.args.get("expr", "1")
    eval("1 + 1")  # ok: code-injection.eval-exec
    exec(expr)  # ruleid: code-injection.eval-exec
    return str(eval(expr))  # ruleid: code-injection.eval-exec


@app.route("/load", methods=["POST"])
def load():
    data = pickle.loads(request.get_data())  # ruleid: deserialization.unsafe-loader
    conf = yaml.load(request.get_data())  # ruleid: deserialization.unsafe-loader
    ok = yaml.load(request.get_data(), Loader=yaml.SafeLoader)  # ok: deserialization.unsafe-loader
    ok2 = yaml.safe_load(request.get_data())  # ok: deserialization.unsafe-loader
    return str((data, conf, ok, ok2))


def hash_password(password):
    digest = hashlib.md5(password.encode()).hexdigest()  # ruleid: crypto.weak-password-hash
    check = hashlib.sha1(b"file contents")  # ruleid: crypto.weak-hash
    fine = hashlib.md5(b"etag", usedforsecurity=False)  # ok: crypto.weak-hash
    return digest, check, fine


def new_token():
    reset_token = "".join(random.choices("abcdef0123456789", k=32))  # ruleid: crypto.insecure-random-secret
    delay = random.random()  # ok: crypto.insecure-random-secret
    return reset_token, delay


def encrypt(key, data):
    des = DES.new(key, DES.MODE_CBC)  # ruleid: crypto.weak-cipher
    ecb = AES.new(key, AES.MODE_ECB)  # ruleid: crypto.weak-cipher
    gcm = AES.new(key, AES.MODE_GCM)  # ok: crypto.weak-cipher
    return des, ecb, gcm


@app.route("/fetch")
def fetch():
    url = request.args.get("url", "")
    requests.get("https://api.example.org/status", timeout=5)  # ok: ssrf.request-data-in-url
    return requests.get(url, timeout=5).text  # ruleid: ssrf.request-data-in-url


@app.after_request
def cors_headers(response):
    response.headers["Access-Control-Allow-Origin"] = "*"  # ruleid: cors.any-origin
    return response


@app.route("/report")
def report():
    try:
        return str(1 / 0)
    except ZeroDivisionError:
        app.logger.error("failed: %s", traceback.format_exc())  # ok: info-disclosure.traceback-in-route
        return {"error": "failed", "trace": traceback.format_exc()}, 500  # ruleid: info-disclosure.traceback-in-route


@app.route("/resp")
def resp():
    return make_response(request.args.get("x", ""))  # ruleid: xss.unescaped-data-in-html


if __name__ == "__main__":
    app.run(debug=True)  # ruleid: debug.flask-debug-enabled
    app.run(debug=False)  # ok: debug.flask-debug-enabled
"""

JSX_CASES = r"""import React from "react";

const API_KEY = "AKIAABCDEFGHIJKLMNOP"; // ruleid: secrets.known-key-format
const apiSecret = "9f8e7d6c5b4a39281706"; // ruleid: secrets.credential-in-variable
const passwordLabel = "Password"; // ok: secrets.credential-in-variable
const token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"; // ruleid: secrets.known-key-format
const config = { clientSecret: "q8w7e6r5t4y3u2i1" }; // ruleid: secrets.credential-in-variable

export function Comment({ body }) {
  return <div dangerouslySetInnerHTML={{ __html: body }} />; // ruleid: react-dangerously-set-inner-html
}

export function Static() {
  return <div dangerouslySetInnerHTML={{ __html: "<b>hi</b>" }} />; // ok: react-dangerously-set-inner-html
}

export function render(el, note) {
  el.innerHTML = `<p>${note.text}</p>`; // ruleid: html-sink-with-data
  el.innerHTML = "<p>loading</p>"; // ok: html-sink-with-data
  el.innerHTML = `<p>loading</p>`; // ok: html-sink-with-data
  el.outerHTML = note.html; // ruleid: html-sink-with-data
  el.insertAdjacentHTML("beforeend", note.html); // ruleid: html-sink-with-data
  document.write(note.html); // ruleid: html-sink-with-data
  el.textContent = note.text; // ok: html-sink-with-data
}

export function run(code) {
  eval(code); // ruleid: code-injection.eval
  const f = new Function("a", code); // ruleid: code-injection.eval
  setTimeout("doThing()", 10); // ruleid: code-injection.eval
  setTimeout(() => f(1), 10); // ok: code-injection.eval
}

export async function load() {
  await fetch("http://api.example.org/items"); // ruleid: transport.insecure-http-url
  await fetch("https://api.example.org/items"); // ok: transport.insecure-http-url
  await fetch("http://localhost:5000/api/items"); // ok: transport.insecure-http-url
  await fetch("/api/items"); // ok: transport.insecure-http-url
  const ws = new WebSocket("ws://chat.example.org/socket"); // ruleid: transport.insecure-http-url
  const xhr = new XMLHttpRequest();
  xhr.open("GET", "http://api.example.org/x"); // ruleid: transport.insecure-http-url
  return ws;
}
"""

TS_CASES = r"""import React from "react";

const API_KEY = "AKIAABCDEFGHIJKLMNOP"; // ruleid: secrets.known-key-format
const apiSecret = "9f8e7d6c5b4a39281706"; // ruleid: secrets.credential-in-variable
const passwordLabel = "Password"; // ok: secrets.credential-in-variable
const config = { clientSecret: "q8w7e6r5t4y3u2i1" }; // ruleid: secrets.credential-in-variable



export function render(el, note) {
  el.innerHTML = `<p>${note.text}</p>`; // ruleid: html-sink-with-data
  el.innerHTML = "<p>loading</p>"; // ok: html-sink-with-data
  el.innerHTML = `<p>loading</p>`; // ok: html-sink-with-data
  el.outerHTML = note.html; // ruleid: html-sink-with-data
  el.insertAdjacentHTML("beforeend", note.html); // ruleid: html-sink-with-data
  document.write(note.html); // ruleid: html-sink-with-data
  el.textContent = note.text; // ok: html-sink-with-data
}

export function run(code) {
  eval(code); // ruleid: code-injection.eval
  const f = new Function("a", code); // ruleid: code-injection.eval
  setTimeout("doThing()", 10); // ruleid: code-injection.eval
  setTimeout(() => f(1), 10); // ok: code-injection.eval
}

export async function load() {
  await fetch("http://api.example.org/items"); // ruleid: transport.insecure-http-url
  await fetch("https://api.example.org/items"); // ok: transport.insecure-http-url
  await fetch("http://localhost:5000/api/items"); // ok: transport.insecure-http-url
  await fetch("/api/items"); // ok: transport.insecure-http-url
  const ws = new WebSocket("ws://chat.example.org/socket"); // ruleid: transport.insecure-http-url
  const xhr = new XMLHttpRequest();
  xhr.open("GET", "http://api.example.org/x"); // ruleid: transport.insecure-http-url
  return ws;
}
"""


FILES = {
    "backend/cases.py": PYTHON_CASES,
    "frontend/src/cases.jsx": JSX_CASES,
    "frontend/src/cases.ts": TS_CASES,
}


def marks() -> list[tuple[str, int, str, str]]:
    found = []
    for file, text in FILES.items():
        for number, line in enumerate(text.splitlines(), 1):
            match = MARK.search(line)
            if match:
                found.append((file, number, match.group(1), match.group(2)))
    return found


@pytest.fixture(scope="module")
async def reported(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], set[str]]:
    app = tmp_path_factory.mktemp("rules") / "app"
    for file, text in FILES.items():
        (app / file).parent.mkdir(parents=True, exist_ok=True)
        (app / file).write_text(text)
    hits: dict[tuple[str, int], set[str]] = {}
    for part in ("backend", "frontend"):
        run = await SemgrepTool().run(SourceTarget(app, part), timeout_s=120)
        assert run.status == ToolStatus.FINDINGS, run.error
        assert not run.error, run.error  # every rule compiled, every file parsed
        for f in run.findings:
            hits.setdefault((f.location.file, f.location.line or 0), set()).add(f.rule_id)
    return hits


@pytest.mark.parametrize(
    ("file", "line", "kind", "rule"), marks(), ids=lambda v: str(v).replace("/", ".")
)
def test_rule_example(
    reported: dict[tuple[str, int], set[str]], file: str, line: int, kind: str, rule: str
) -> None:
    rules = reported.get((file, line), set())
    hit = any(r.endswith(rule) for r in rules)
    code = FILES[file].splitlines()[line - 1].strip()
    if kind == "ruleid":
        assert hit, f"{rule} missed {file}:{line}: {code} (reported: {sorted(rules)})"
    else:
        assert not hit, f"{rule} reported {file}:{line}: {code}"
