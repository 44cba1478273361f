const ejs = require("ejs");
const express = require("express");

const app = express();
const TEMPLATE = "<p>Hello <%= name %></p>";

app.post("/preview", (req, res) => {
  res.type("html").end(ejs.render(TEMPLATE, { name: req.body.name }));
});
