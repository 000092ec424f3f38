// node_broadcast.mjs over HTTP/2, as a benchmark peer: the same plain broadcast server written
// the way one would port it to Node's http2 module. http2.createServer (cleartext, prior
// knowledge: Node has no h2c upgrade) with the compatibility API, a Set of responses per topic,
// res.write per event (one DATA frame per stream), a heartbeat timer per stream. Same URLs and
// wire format as ringcast (GET /sse/{topic}, POST /pub/{topic} -> 202 {"topic","id"}).
//
// A cleartext http2 server in Node speaks HTTP/2 only (allowHTTP1 is for TLS servers), and the
// load generator publishes over HTTP/1.1, so --pub-port also serves the same routes over
// HTTP/1.1 from this process, to the same topics: publishes (and /healthz) arrive there.
// No replay, no limits: the baseline.
//
//   node bench/peers/node_broadcast_h2.mjs --port 8090 --pub-port 8091 [--max-streams 100]
import http from "node:http";
import http2 from "node:http2";

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const port = arg("--port", 8090);
const pubPort = arg("--pub-port", 0);
const maxStreams = arg("--max-streams", 0);  // 0: Node's default (no limit)
const topics = new Map();  // topic -> Set<Http2ServerResponse | ServerResponse>
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

// One handler for both protocols: the compatibility API gives HTTP/2 streams the same
// req/res shape as http.createServer.
function handle(req, res) {
  const url = new URL(req.url, "http://x");
  if (req.method === "GET" && url.pathname.startsWith("/sse/")) {
    const topic = decodeURIComponent(url.pathname.slice(5));
    // No Connection header: HTTP/2 forbids connection-specific fields.
    res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      "X-Accel-Buffering": "no",
    });
    res.write("retry: 3000\n\n");
    if (!topics.has(topic)) topics.set(topic, new Set());
    const set = topics.get(topic);
    set.add(res);
    const heartbeat = setInterval(() => res.write(": ping\n\n"), 15_000);
    res.on("close", () => { clearInterval(heartbeat); set.delete(res); });
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
}

const settings = maxStreams ? { maxConcurrentStreams: maxStreams } : {};
const server = http2.createServer({ settings }, handle);
server.setTimeout(0);
server.on("sessionError", (e) => console.error(`node_broadcast_h2: session error: ${e.message}`));
server.listen(port, "127.0.0.1", 4096,
              () => console.error(`node_broadcast_h2: HTTP/2 (prior knowledge) on 127.0.0.1:${port}`));
if (pubPort) {
  const h1 = http.createServer(handle);
  h1.keepAliveTimeout = 120_000;
  h1.headersTimeout = 130_000;
  h1.requestTimeout = 0;
  h1.listen(pubPort, "127.0.0.1", 4096,
            () => console.error(`node_broadcast_h2: HTTP/1.1 (publishes) on 127.0.0.1:${pubPort}`));
}
process.on("SIGTERM", () => process.exit(0));
