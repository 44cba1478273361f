const express = require("express");
const db = require("./db");

const app = express();

app.get("/api/users", (req, res) => {
  const sql = `SELECT * FROM users WHERE name = '${req.query.name}'`;
  db.all(sql, (err, rows) => res.json(rows));
});
