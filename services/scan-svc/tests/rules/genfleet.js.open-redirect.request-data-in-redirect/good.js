const express = require("express");

const app = express();

app.get("/logout", (req, res) => {
  res.redirect("/login");
});
