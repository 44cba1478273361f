const fs = require("fs");

function exportCsv(rows) {
  fs.writeFileSync("/tmp/export.csv", rows.join("\n"));
  return "/tmp/export.csv";
}

module.exports = { exportCsv };
