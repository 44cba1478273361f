const express = require("express");

const app = express();

app.post("/login", (req, res) => {
  res.cookie("session", "abc123", { httpOnly: true, secure: true, sameSite: "lax" });
  res.json({ ok: true });
});
