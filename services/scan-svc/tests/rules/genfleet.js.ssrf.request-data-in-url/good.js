const axios = require("axios");
const express = require("express");

const app = express();

app.get("/preview", async (req, res) => {
  const page = await axios.get("https://api.example.org/preview", { params: { id: req.query.id } });
  res.json({ length: page.data.length });
});
