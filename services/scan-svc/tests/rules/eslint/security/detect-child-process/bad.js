const { exec } = require("child_process");

function listFiles(dir, done) {
  exec("ls " + dir, done);
}

module.exports = { listFiles };
