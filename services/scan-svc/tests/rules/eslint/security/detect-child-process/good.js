const { readdir } = require("fs");

function listFiles(dir, done) {
  readdir(dir, done);
}

module.exports = { listFiles };
