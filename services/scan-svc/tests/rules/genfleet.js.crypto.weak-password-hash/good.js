const bcrypt = require("bcrypt");
const crypto = require("crypto");

function hashPassword(password) {
  return bcrypt.hash(password, 12);
}

function etag(body) {
  return crypto.createHash("sha256").update(body).digest("hex");
}

module.exports = { hashPassword, etag };
