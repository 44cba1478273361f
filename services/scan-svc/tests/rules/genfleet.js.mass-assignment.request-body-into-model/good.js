const express = require("express");
const User = require("./models/user");

const app = express();

app.post("/api/users", async (req, res) => {
  const { name, email } = req.body;
  const user = await User.create({ name, email });
  res.status(201).json(user);
});
