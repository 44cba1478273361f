const crypto = require("crypto");

module.exports = () => crypto.pseudoRandomBytes(32).toString("hex");
