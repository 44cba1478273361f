const express = require("express");
const fs = require("fs");
const path = require("path");

const app = express();

app.get("/files", (req, res) => {
  const data = fs.readFileSync(path.join(__dirname, "uploads", req.query.name));
  res.send(data);
});
