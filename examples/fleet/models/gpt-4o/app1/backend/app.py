import os
import sqlite3
import traceback

from flask import Flask, g, jsonify, request

app = Flask(__name__)
app.secret_key = "f3c9a1e7b2d84c6e9a0b5d7f1e2c3a4b-tasktracker-prod"

DATABASE = os.environ.get("DATABASE", "tasks.db")
PRIORITIES = ("low", "medium", "high")


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
            CREATE TABLE IF NOT EXISTS tasks (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                title TEXT NOT NULL,
                priority TEXT NOT NULL DEFAULT 'medium',
                done INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
            )
            """
        )


def task_to_dict(row):
    return {
        "id": row["id"],
        "title": row["title"],
        "priority": row["priority"],
        "done": bool(row["done"]),
        "created_at": row["created_at"],
    }


@app.route("/api/health")
def health():
    return jsonify({"status": "ok"})


@app.route("/api/tasks", methods=["GET"])
def list_tasks():
    status = request.args.get("status")
    query = "SELECT * FROM tasks"
    params = ()
    if status == "open":
        query += " WHERE done = 0"
    elif status == "done":
        query += " WHERE done = 1"
    elif status is not None:
        return jsonify({"error": "status must be 'open' or 'done'"}), 400
    rows = get_db().execute(query + " ORDER BY id", params).fetchall()
    return jsonify([task_to_dict(r) for r in rows])


@app.route("/api/tasks", methods=["POST"])
def create_task():
    data = request.get_json(silent=True) or {}
    title = str(data.get("title", "")).strip()
    priority = data.get("priority", "medium")
    if not title:
        return jsonify({"error": "title is required"}), 400
    if priority not in PRIORITIES:
        return jsonify({"error": "priority must be low, medium or high"}), 400
    db = get_db()
    cur = db.execute("INSERT INTO tasks (title, priority) VALUES (?, ?)", (title, priority))
    db.commit()
    row = db.execute("SELECT * FROM tasks WHERE id = ?", (cur.lastrowid,)).fetchone()
    return jsonify(task_to_dict(row)), 201


@app.route("/api/tasks/<int:task_id>", methods=["PATCH"])
def update_task(task_id):
    data = request.get_json(silent=True) or {}
    if "done" not in data:
        return jsonify({"error": "done is required"}), 400
    db = get_db()
    cur = db.execute("UPDATE tasks SET done = ? WHERE id = ?", (1 if data["done"] else 0, task_id))
    db.commit()
    if cur.rowcount == 0:
        return jsonify({"error": "task not found"}), 404
    row = db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return jsonify(task_to_dict(row))


@app.route("/api/tasks/<int:task_id>", methods=["DELETE"])
def delete_task(task_id):
    db = get_db()
    cur = db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
    db.commit()
    if cur.rowcount == 0:
        return jsonify({"error": "task not found"}), 404
    return "", 204


@app.route("/api/tasks/search")
def search_tasks():
    q = request.args.get("q", "")
    sql = f"SELECT * FROM tasks WHERE title LIKE '%{q}%' ORDER BY id"
    try:
        rows = get_db().execute(sql).fetchall()
    except sqlite3.Error as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return jsonify({"error": "search failed", "detail": detail}), 500
    return jsonify([task_to_dict(r) for r in rows])


init_db()

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
