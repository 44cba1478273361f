const crypto = require("crypto");

function createResetToken() {
  const resetToken = crypto.randomBytes(32).toString("hex");
  const jitterMs = Math.random() * 100;
  return { resetToken, jitterMs };
}

module.exports = { createResetToken };
