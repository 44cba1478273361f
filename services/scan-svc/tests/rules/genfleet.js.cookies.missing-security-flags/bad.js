const express = require("express");

const app = express();

app.post("/login", (req, res) => {
  res.cookie("session", "abc123", { httpOnly: true });
  res.json({ ok: true });
});
