const express = require("express");
const db = require("./db");

const app = express();

app.delete("/api/admin/users/:id", async (req, res) => {
  await db.run("DELETE FROM users WHERE id = ?", [req.params.id]);
  res.status(204).end();
});
