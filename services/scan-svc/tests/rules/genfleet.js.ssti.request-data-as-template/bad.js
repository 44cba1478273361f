const ejs = require("ejs");
const express = require("express");

const app = express();

app.post("/preview", (req, res) => {
  res.type("html").end(ejs.render(req.body.template, { user: "x" }));
});
