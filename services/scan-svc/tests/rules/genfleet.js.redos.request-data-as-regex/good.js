const express = require("express");

const app = express();
const NAMES = ["alice", "bob"];

app.get("/find", (req, res) => {
  const q = String(req.query.q).toLowerCase();
  res.json(NAMES.filter((n) => n.includes(q)));
});
