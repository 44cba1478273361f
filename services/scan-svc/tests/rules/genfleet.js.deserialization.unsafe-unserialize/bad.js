const serialize = require("node-serialize");

function loadPrefs(cookie) {
  return serialize.unserialize(Buffer.from(cookie, "base64").toString());
}

module.exports = { loadPrefs };
