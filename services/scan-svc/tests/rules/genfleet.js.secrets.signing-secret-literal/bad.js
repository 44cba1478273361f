const jwt = require("jsonwebtoken");

function issue(user) {
  return jwt.sign({ sub: user.id }, "super secret key", { expiresIn: "1h" });
}

module.exports = { issue };
