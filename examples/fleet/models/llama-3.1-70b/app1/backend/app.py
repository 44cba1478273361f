# Task Tracker backend (Flask + SQLite)
import csv
import os
import sqlite3
import subprocess

from flask import Flask, jsonify, request

app = Flask(__name__)

DB_NAME = os.environ.get("DATABASE", "tasks.db")
EXPORT_DIR = "exports"
PAGE_SIZE = 20


def get_connection():
    conn = sqlite3.connect(DB_NAME)
    conn.row_factory = sqlite3.Row
    return conn


def create_tables():
    conn = get_connection()
    cursor = conn.cursor()
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS tasks ("
        "id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "title TEXT NOT NULL, "
        "priority TEXT DEFAULT 'medium', "
        "done INTEGER DEFAULT 0, "
        "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
    )
    conn.commit()
    conn.close()


def row_to_task(row):
    task = dict(row)
    task["done"] = bool(task["done"])
    return task


# Health check endpoint
@app.route("/api/health", methods=["GET"])
def health_check():
    return jsonify({"status": "ok"}), 200


# Get all tasks (with optional status filter and pagination)
@app.route("/api/tasks", methods=["GET"])
def get_tasks():
    status = request.args.get("status")
    page = int(request.args.get("page", 1))
    conn = get_connection()
    cursor = conn.cursor()
    if status == "open":
        cursor.execute("SELECT * FROM tasks WHERE done = 0 ORDER BY id LIMIT ? OFFSET ?", (PAGE_SIZE, (page - 1) * PAGE_SIZE))
    elif status == "done":
        cursor.execute("SELECT * FROM tasks WHERE done = 1 ORDER BY id LIMIT ? OFFSET ?", (PAGE_SIZE, (page - 1) * PAGE_SIZE))
    else:
        cursor.execute("SELECT * FROM tasks ORDER BY id LIMIT ? OFFSET ?", (PAGE_SIZE, (page - 1) * PAGE_SIZE))
    tasks = [row_to_task(row) for row in cursor.fetchall()]
    conn.close()
    return jsonify(tasks), 200


# Create a new task
@app.route("/api/tasks", methods=["POST"])
def add_task():
    data = request.get_json()
    if not data or not data.get("title"):
        return jsonify({"error": "Title is required"}), 400
    priority = data.get("priority", "medium")
    if priority not in ["low", "medium", "high"]:
        return jsonify({"error": "Invalid priority"}), 400
    conn = get_connection()
    cursor = conn.cursor()
    cursor.execute("INSERT INTO tasks (title, priority) VALUES (?, ?)", (data["title"], priority))
    conn.commit()
    task_id = cursor.lastrowid
    cursor.execute("SELECT * FROM tasks WHERE id = ?", (task_id,))
    task = row_to_task(cursor.fetchone())
    conn.close()
    return jsonify(task), 201


# Mark a task as done / open
@app.route("/api/tasks/<int:task_id>", methods=["PATCH"])
def update_task(task_id):
    data = request.get_json()
    conn = get_connection()
    cursor = conn.cursor()
    cursor.execute("UPDATE tasks SET done = ? WHERE id = ?", (1 if data.get("done") else 0, task_id))
    conn.commit()
    if cursor.rowcount == 0:
        conn.close()
        return jsonify({"error": "Task not found"}), 404
    cursor.execute("SELECT * FROM tasks WHERE id = ?", (task_id,))
    task = row_to_task(cursor.fetchone())
    conn.close()
    return jsonify(task), 200


# Delete a task
@app.route("/api/tasks/<int:task_id>", methods=["DELETE"])
def delete_task(task_id):
    conn = get_connection()
    cursor = conn.cursor()
    cursor.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
    conn.commit()
    deleted = cursor.rowcount
    conn.close()
    if deleted == 0:
        return jsonify({"error": "Task not found"}), 404
    return jsonify({"deleted": task_id}), 200


# Search tasks by title
@app.route("/api/tasks/search", methods=["GET"])
def search_tasks():
    q = request.args.get("q", "")
    conn = get_connection()
    cursor = conn.cursor()
    cursor.execute("SELECT * FROM tasks WHERE title LIKE ? ORDER BY id", ("%" + q + "%",))
    tasks = [row_to_task(row) for row in cursor.fetchall()]
    conn.close()
    return jsonify(tasks), 200


# Export all tasks to a CSV file and report how many lines were written
@app.route("/api/tasks/export", methods=["GET"])
def export_tasks():
    filename = request.args.get("filename", "tasks.csv")
    os.makedirs(EXPORT_DIR, exist_ok=True)
    conn = get_connection()
    rows = conn.execute("SELECT id, title, priority, done, created_at FROM tasks").fetchall()
    conn.close()
    with open(os.path.join(EXPORT_DIR, "latest.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "priority", "done", "created_at"])
        writer.writerows([tuple(row) for row in rows])
    command = f"cp {EXPORT_DIR}/latest.csv {EXPORT_DIR}/{filename} && wc -l {EXPORT_DIR}/{filename}"
    result = subprocess.run(command, shell=True, capture_output=True, text=True)
    return jsonify({"message": "Export complete", "output": result.stdout, "errors": result.stderr}), 200


create_tables()

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", 5000)), debug=True)
