// The plain Node.js broadcast server the seed documents sketch, as a benchmark peer:
// http.createServer, a Set of responses per topic, res.write per event, a heartbeat timer per
// stream. Same URLs and wire format as ringcast (GET /sse/{topic}, POST /pub/{topic} -> 202
// {"topic","id"}), so the same load generator drives both. No replay, no limits: the baseline.
//
//   node bench/peers/node_broadcast.mjs --port 8090
import http from "node:http";

const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1] || 8090);
const topics = new Map();  // topic -> Set<ServerResponse>
let lastMs = 0;
let counter = 0;

function nextId() {
  const now = Date.now();
  if (now > lastMs) { lastMs = now; counter = 0; } else { counter += 1; }
  return `${lastMs}-${counter}`;
}

function encode(id, data) {
  const lines = data.split(/\r\n|\r|\n/);
  return `id: ${id}\n` + lines.map((l) => `data: ${l}\n`).join("") + "\n";
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method === "GET" && url.pathname.startsWith("/sse/")) {
    const topic = decodeURIComponent(url.pathname.slice(5));
    res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      "Connection": "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.write("retry: 3000\n\n");
    if (!topics.has(topic)) topics.set(topic, new Set());
    const set = topics.get(topic);
    set.add(res);
    const heartbeat = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.on("close", () => { clearInterval(heartbeat); set.delete(res); });
    return;
  }
  if (req.method === "POST" && url.pathname.startsWith("/pub/")) {
    const topic = decodeURIComponent(url.pathname.slice(5));
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const id = nextId();
      const wire = encode(id, Buffer.concat(chunks).toString("utf8"));
      for (const sub of topics.get(topic) || []) sub.write(wire);
      const body = JSON.stringify({ topic, id });
      res.writeHead(202, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  if (url.pathname === "/healthz") { res.writeHead(200); res.end("ok\n"); return; }
  res.writeHead(404);
  res.end();
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.listen(port, "127.0.0.1", 4096, () => console.error(`node_broadcast: listening on 127.0.0.1:${port}`));
process.on("SIGTERM", () => process.exit(0));
