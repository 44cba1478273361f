const express = require("express");

const app = express();
const NAMES = ["alice", "bob"];

app.get("/find", (req, res) => {
  const pattern = new RegExp(req.query.q);
  res.json(NAMES.filter((n) => pattern.test(n)));
});
