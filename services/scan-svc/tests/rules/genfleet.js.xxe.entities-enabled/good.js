const libxmljs = require("libxmljs");

function parseOrder(xml) {
  return libxmljs.parseXml(xml, { noent: false, nonet: true });
}

module.exports = { parseOrder };
