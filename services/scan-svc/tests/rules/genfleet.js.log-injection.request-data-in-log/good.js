const express = require("express");

const app = express();

app.post("/login", (req, res) => {
  console.log("login attempt for %s", JSON.stringify(req.body.username));
  res.json({ ok: false });
});
