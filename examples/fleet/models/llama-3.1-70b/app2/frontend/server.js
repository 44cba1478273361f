// Simple static server + API proxy for the Guestbook frontend
const http = require("http");
const fs = require("fs");
const path = require("path");

const PORT = process.env.PORT || 3000;
const BACKEND_HOST = process.env.BACKEND_HOST || "backend";
const BACKEND_PORT = process.env.BACKEND_PORT || 5000;

const server = http.createServer(function (req, res) {
  // Forward API calls to the Flask backend
  if (req.url.startsWith("/api") || req.url.startsWith("/search")) {
    const options = {
      hostname: BACKEND_HOST,
      port: BACKEND_PORT,
      path: req.url,
      method: req.method,
      headers: req.headers,
    };
    const proxy = http.request(options, function (backendRes) {
      res.writeHead(backendRes.statusCode, backendRes.headers);
      backendRes.pipe(res, { end: true });
    });
    proxy.on("error", function (err) {
      console.error("Proxy error:", err.message);
      res.writeHead(502, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: "Backend not reachable" }));
    });
    req.pipe(proxy, { end: true });
    return;
  }

  // Serve static files
  let filePath = req.url === "/" ? "/index.html" : req.url.split("?")[0];
  if (filePath.includes("..")) {
    res.writeHead(400);
    res.end("Bad request");
    return;
  }
  filePath = path.join(__dirname, "public", filePath);
  const ext = path.extname(filePath);
  let contentType = "text/html";
  if (ext === ".js") contentType = "application/javascript";
  if (ext === ".css") contentType = "text/css";

  fs.readFile(filePath, function (err, content) {
    if (err) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("404 Not Found");
    } else {
      res.writeHead(200, { "Content-Type": contentType });
      res.end(content, "utf-8");
    }
  });
});

server.listen(PORT, "0.0.0.0", function () {
  console.log("Server running at http://0.0.0.0:" + PORT + "/");
});

process.on("SIGTERM", function () {
  console.log("SIGTERM received, shutting down");
  process.exit(0);
});
