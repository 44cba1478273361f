import os
import sqlite3

from flask import Flask, g, jsonify, request

app = Flask(__name__)

DATABASE = os.environ.get("DATABASE", "guestbook.db")
MAX_MESSAGE_LENGTH = 500
DEFAULT_LIMIT = 50


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(exception):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db():
    with sqlite3.connect(DATABASE) as conn:
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS notes (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                author TEXT NOT NULL,
                message TEXT NOT NULL,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """
        )


def note_to_dict(row):
    return {
        "id": row["id"],
        "author": row["author"],
        "message": row["message"],
        "created_at": row["created_at"],
    }


def find_notes(q):
    pattern = f"%{q.lower()}%"
    return get_db().execute(
        "SELECT * FROM notes WHERE lower(author) LIKE ? OR lower(message) LIKE ? "
        "ORDER BY created_at DESC, id DESC",
        (pattern, pattern),
    ).fetchall()


@app.route("/api/health")
def health():
    return jsonify({"status": "ok"})


@app.route("/api/notes", methods=["GET"])
def list_notes():
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        return jsonify({"error": "limit must be an integer"}), 400
    limit = max(1, min(limit, DEFAULT_LIMIT))
    rows = get_db().execute(
        "SELECT * FROM notes ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
    ).fetchall()
    return jsonify([note_to_dict(r) for r in rows])


@app.route("/api/notes", methods=["POST"])
def create_note():
    data = request.get_json(silent=True) or {}
    author = str(data.get("author") or "").strip() or "Anonymous"
    message = str(data.get("message") or "").strip()
    if not message:
        return jsonify({"error": "message is required"}), 400
    if len(message) > MAX_MESSAGE_LENGTH:
        return jsonify({"error": f"message is longer than {MAX_MESSAGE_LENGTH} characters"}), 400
    db = get_db()
    cur = db.execute("INSERT INTO notes (author, message) VALUES (?, ?)", (author, message))
    db.commit()
    row = db.execute("SELECT * FROM notes WHERE id = ?", (cur.lastrowid,)).fetchone()
    return jsonify(note_to_dict(row)), 201


@app.route("/api/notes/<int:note_id>", methods=["DELETE"])
def delete_note(note_id):
    db = get_db()
    cur = db.execute("DELETE FROM notes WHERE id = ?", (note_id,))
    db.commit()
    if cur.rowcount == 0:
        return jsonify({"error": "note not found"}), 404
    return "", 204


@app.route("/api/search")
def search_api():
    q = request.args.get("q", "")
    return jsonify([note_to_dict(r) for r in find_notes(q)])


@app.route("/search")
def search_page():
    q = request.args.get("q", "")
    items = "".join(
        f"<li><b>{r['author']}</b>: {r['message']} <small>{r['created_at']}</small></li>"
        for r in find_notes(q)
    )
    html = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Guestbook search</title></head>
<body>
<h1>Search results for: {q}</h1>
<ul>{items}</ul>
<p><a href="/">Back to the guestbook</a></p>
</body></html>"""
    return html


init_db()

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
