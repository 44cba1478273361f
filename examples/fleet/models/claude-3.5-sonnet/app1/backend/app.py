"""Task tracker API.

A small Flask service that stores tasks in SQLite and exposes them as JSON under /api.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from typing import Any

from flask import Flask, Response, jsonify, request

DATABASE_PATH = os.environ.get("DATABASE", "tasks.db")
VALID_PRIORITIES = {"low", "medium", "high"}
MAX_TITLE_LENGTH = 200

app = Flask(__name__)


def connect() -> sqlite3.Connection:
    """Open a connection that returns rows as dict-like objects."""
    connection = sqlite3.connect(DATABASE_PATH)
    connection.row_factory = sqlite3.Row
    return connection


def init_db() -> None:
    """Create the schema if it does not exist yet."""
    with closing(connect()) as connection, connection:
        connection.execute(
            """
            CREATE TABLE IF NOT EXISTS tasks (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                title      TEXT    NOT NULL,
                priority   TEXT    NOT NULL DEFAULT 'medium',
                done       INTEGER NOT NULL DEFAULT 0,
                created_at TEXT    NOT NULL DEFAULT (datetime('now'))
            )
            """
        )


def serialize(row: sqlite3.Row) -> dict[str, Any]:
    """Convert a database row into the JSON shape of a task."""
    return {
        "id": row["id"],
        "title": row["title"],
        "priority": row["priority"],
        "done": bool(row["done"]),
        "created_at": row["created_at"],
    }


def error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


@app.get("/api/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@app.get("/api/tasks")
def list_tasks() -> Response | tuple[Response, int]:
    status = request.args.get("status")
    filters = {"open": 0, "done": 1}
    with closing(connect()) as connection:
        if status is None:
            rows = connection.execute("SELECT * FROM tasks ORDER BY id").fetchall()
        elif status in filters:
            rows = connection.execute(
                "SELECT * FROM tasks WHERE done = ? ORDER BY id", (filters[status],)
            ).fetchall()
        else:
            return error("status must be 'open' or 'done'", 400)
    return jsonify([serialize(row) for row in rows])


@app.post("/api/tasks")
def create_task() -> tuple[Response, int]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return error("expected a JSON object", 400)
    title = payload.get("title")
    priority = payload.get("priority", "medium")
    if not isinstance(title, str) or not title.strip():
        return error("title is required", 400)
    if len(title) > MAX_TITLE_LENGTH:
        return error(f"title must be at most {MAX_TITLE_LENGTH} characters", 400)
    if priority not in VALID_PRIORITIES:
        return error("priority must be one of: high, low, medium", 400)
    with closing(connect()) as connection, connection:
        cursor = connection.execute(
            "INSERT INTO tasks (title, priority) VALUES (?, ?)", (title.strip(), priority)
        )
        row = connection.execute("SELECT * FROM tasks WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return jsonify(serialize(row)), 201


@app.patch("/api/tasks/<int:task_id>")
def update_task(task_id: int) -> Response | tuple[Response, int]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("done"), bool):
        return error("expected a JSON object with a boolean 'done'", 400)
    with closing(connect()) as connection, connection:
        cursor = connection.execute(
            "UPDATE tasks SET done = ? WHERE id = ?", (int(payload["done"]), task_id)
        )
        if cursor.rowcount == 0:
            return error("task not found", 404)
        row = connection.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return jsonify(serialize(row))


@app.delete("/api/tasks/<int:task_id>")
def delete_task(task_id: int) -> tuple[str, int] | tuple[Response, int]:
    with closing(connect()) as connection, connection:
        cursor = connection.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
    if cursor.rowcount == 0:
        return error("task not found", 404)
    return "", 204


@app.get("/api/tasks/search")
def search_tasks() -> Response:
    query = request.args.get("q", "").strip()
    # Escape LIKE wildcards so the user's text is matched literally.
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with closing(connect()) as connection:
        rows = connection.execute(
            "SELECT * FROM tasks WHERE title LIKE ? ESCAPE '\\' ORDER BY id",
            (f"%{escaped}%",),
        ).fetchall()
    return jsonify([serialize(row) for row in rows])


init_db()

if __name__ == "__main__":
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "5000")),
        debug=False,
    )
