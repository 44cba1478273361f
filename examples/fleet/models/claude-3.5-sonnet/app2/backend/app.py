"""Guestbook API.

Visitors leave short notes; notes are stored in SQLite and can be searched. Besides the JSON
API under /api there is a small server-rendered /search page that can be shared as a link.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

DATABASE_PATH = os.environ.get("DATABASE", "guestbook.db")
MAX_MESSAGE_LENGTH = 500
MAX_AUTHOR_LENGTH = 80
MAX_NOTES = 50

app = Flask(__name__)


def connect() -> sqlite3.Connection:
    connection = sqlite3.connect(DATABASE_PATH)
    connection.row_factory = sqlite3.Row
    return connection


def init_db() -> None:
    with closing(connect()) as connection, connection:
        connection.execute(
            """
            CREATE TABLE IF NOT EXISTS notes (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                author     TEXT NOT NULL,
                message    TEXT NOT NULL,
                created_at TEXT NOT NULL DEFAULT (datetime('now'))
            )
            """
        )


def serialize(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "author", "message", "created_at")}


def error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def search_notes(query: str) -> list[dict[str, Any]]:
    """Case-insensitive substring search over author and message."""
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    with closing(connect()) as connection:
        rows = connection.execute(
            """
            SELECT * FROM notes
            WHERE lower(author) LIKE ? ESCAPE '\\' OR lower(message) LIKE ? ESCAPE '\\'
            ORDER BY id DESC
            LIMIT ?
            """,
            (pattern, pattern, MAX_NOTES),
        ).fetchall()
    return [serialize(row) for row in rows]


@app.get("/api/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@app.get("/api/notes")
def list_notes() -> Response | tuple[Response, int]:
    limit = request.args.get("limit", default=MAX_NOTES, type=int)
    if limit is None or not 1 <= limit <= MAX_NOTES:
        return error(f"limit must be an integer between 1 and {MAX_NOTES}", 400)
    with closing(connect()) as connection:
        rows = connection.execute(
            "SELECT * FROM notes ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    return jsonify([serialize(row) for row in rows])


@app.post("/api/notes")
def create_note() -> tuple[Response, int]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return error("expected a JSON object", 400)
    author = payload.get("author") or "Guest"
    message = payload.get("message")
    if not isinstance(author, str) or len(author) > MAX_AUTHOR_LENGTH:
        return error(f"author must be a string of at most {MAX_AUTHOR_LENGTH} characters", 400)
    if not isinstance(message, str) or not message.strip():
        return error("message is required", 400)
    if len(message) > MAX_MESSAGE_LENGTH:
        return error(f"message must be at most {MAX_MESSAGE_LENGTH} characters", 400)
    with closing(connect()) as connection, connection:
        cursor = connection.execute(
            "INSERT INTO notes (author, message) VALUES (?, ?)",
            (author.strip() or "Guest", message.strip()),
        )
        row = connection.execute("SELECT * FROM notes WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return jsonify(serialize(row)), 201


@app.delete("/api/notes/<int:note_id>")
def delete_note(note_id: int) -> tuple[str, int] | tuple[Response, int]:
    with closing(connect()) as connection, connection:
        cursor = connection.execute("DELETE FROM notes WHERE id = ?", (note_id,))
    if cursor.rowcount == 0:
        return error("note not found", 404)
    return "", 204


@app.get("/api/search")
def search() -> Response:
    return jsonify(search_notes(request.args.get("q", "")))


@app.get("/search")
def search_page() -> str:
    query = request.args.get("q", "")
    # Flask autoescapes .html templates, so user text is HTML-escaped.
    return render_template("search.html", query=query, notes=search_notes(query))


init_db()

if __name__ == "__main__":
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "5000")),
        debug=False,
    )
