function loadPrefs(cookie) {
  return JSON.parse(Buffer.from(cookie, "base64").toString());
}

module.exports = { loadPrefs };
