const { doubleCsrf } = require("csrf-csrf");
const express = require("express");
const session = require("express-session");

const app = express();
const { doubleCsrfProtection } = doubleCsrf({ getSecret: () => process.env.CSRF_SECRET });
app.use(session({ secret: process.env.SESSION_SECRET, resave: false, saveUninitialized: false }));
app.use(doubleCsrfProtection);

app.post("/account/email", (req, res) => {
  req.session.email = req.body.email;
  res.redirect("/account");
});
