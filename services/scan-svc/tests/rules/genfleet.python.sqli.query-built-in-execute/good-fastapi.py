import sqlite3

from fastapi import FastAPI

app = FastAPI()
db = sqlite3.connect("shop.db")


@app.get("/products")
def products(category: str):
    return db.execute("SELECT * FROM products WHERE category = ?", (category,)).fetchall()
