const multer = require("multer");

const ALLOWED = new Set(["image/png", "image/jpeg"]);
const upload = multer({
  dest: "uploads/",
  limits: { fileSize: 2 * 1024 * 1024 },
  fileFilter: (req, file, done) => done(null, ALLOWED.has(file.mimetype)),
});

module.exports = { upload };
