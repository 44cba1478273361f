const libxmljs = require("libxmljs");

function parseOrder(xml) {
  return libxmljs.parseXml(xml, { noent: true });
}

module.exports = { parseOrder };
