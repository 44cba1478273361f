const express = require("express");

const app = express();

app.post("/login", (req, res) => {
  console.log("login attempt for " + req.body.username);
  res.json({ ok: false });
});
