const fs = require("fs");
const os = require("os");
const path = require("path");

function exportCsv(rows) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "export-"));
  const file = path.join(dir, "export.csv");
  fs.writeFileSync(file, rows.join("\n"));
  return file;
}

module.exports = { exportCsv };
