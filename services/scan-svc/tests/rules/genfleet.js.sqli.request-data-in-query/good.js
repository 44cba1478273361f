const express = require("express");
const db = require("./db");

const app = express();

app.get("/api/users", (req, res) => {
  db.all("SELECT * FROM users WHERE name = ?", [req.query.name], (err, rows) => res.json(rows));
});
