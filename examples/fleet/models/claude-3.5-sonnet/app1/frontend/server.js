"use strict";

/**
 * Static file server for the web page, plus a small reverse proxy that forwards
 * API requests to the backend so the browser only ever talks to one origin.
 * Uses only Node.js built-in modules.
 */

const http = require("node:http");
const fs = require("node:fs/promises");
const path = require("node:path");

const PORT = Number.parseInt(process.env.PORT ?? "3000", 10);
const BACKEND = new URL(process.env.BACKEND_URL ?? "http://backend:5000");
const PUBLIC_DIR = path.resolve(__dirname, "public");
const PROXIED_PREFIXES = ["/api/"];

const CONTENT_TYPES = new Map([
  [".html", "text/html; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".css", "text/css; charset=utf-8"],
  [".svg", "image/svg+xml"],
]);

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
};

function forward(req, res) {
  const proxyReq = http.request(
    {
      protocol: BACKEND.protocol,
      hostname: BACKEND.hostname,
      port: BACKEND.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: BACKEND.host },
      timeout: 10_000,
    },
    (proxyRes) => {
      res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
      proxyRes.pipe(res);
    },
  );
  proxyReq.on("timeout", () => proxyReq.destroy(new Error("backend timed out")));
  proxyReq.on("error", (err) => {
    if (!res.headersSent) {
      res.writeHead(502, { "Content-Type": "application/json" });
    }
    res.end(JSON.stringify({ error: `backend unavailable: ${err.message}` }));
  });
  req.pipe(proxyReq);
}

async function serveFile(req, res) {
  const { pathname } = new URL(req.url, "http://placeholder");
  const relative = pathname === "/" ? "index.html" : decodeURIComponent(pathname).replace(/^\/+/, "");
  const filePath = path.resolve(PUBLIC_DIR, relative);
  if (!filePath.startsWith(PUBLIC_DIR + path.sep)) {
    res.writeHead(400, SECURITY_HEADERS).end("Bad request");
    return;
  }
  try {
    const body = await fs.readFile(filePath);
    const type = CONTENT_TYPES.get(path.extname(filePath)) ?? "application/octet-stream";
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": type }).end(body);
  } catch {
    res.writeHead(404, { ...SECURITY_HEADERS, "Content-Type": "text/plain" }).end("Not found");
  }
}

const server = http.createServer((req, res) => {
  if (PROXIED_PREFIXES.some((prefix) => req.url.startsWith(prefix))) {
    forward(req, res);
  } else if (req.method === "GET" || req.method === "HEAD") {
    serveFile(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(400, SECURITY_HEADERS);
      res.end("Bad request");
    });
  } else {
    res.writeHead(405, { ...SECURITY_HEADERS, Allow: "GET, HEAD" }).end();
  }
});

server.listen(PORT, "0.0.0.0", () => {
  console.log(`frontend on :${PORT}, proxying ${PROXIED_PREFIXES.join(", ")} to ${BACKEND.origin}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 1_000).unref();
  });
}
