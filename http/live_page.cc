#include "http/live_page.h"

namespace ringcast::http {

namespace {

constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ringcast live</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
  .sub { color: #5b6474; margin-bottom: 1.2rem; }
  .stats { display: grid; grid-template-columns: repeat(4, minmax(8rem, 1fr)); gap: .8rem; max-width: 52rem; }
  .stat { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: .7rem .9rem; }
  .stat b { display: block; font-size: 1.5rem; font-variant-numeric: tabular-nums; }
  .stat span { color: #5b6474; font-size: .85rem; }
  #status { font-weight: 600; }
  .ok { color: #17803d; } .down { color: #b42318; }
  ol { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; max-width: 52rem;
       padding: .6rem 2.4rem; max-height: 50vh; overflow: auto; }
  li { padding: .15rem 0; white-space: pre-wrap; word-break: break-word; }
  li small { color: #8a93a3; margin-left: .5rem; }
  code { background: #eceff3; padding: .1rem .3rem; border-radius: 4px; }
</style>
</head>
<body>
<h1>ringcast</h1>
<div class="sub">Topic <code id="topic"></code> &middot; stream <span id="status">connecting</span>
  &middot; publish with <code id="hint"></code></div>
<div class="stats">
  <div class="stat"><b id="stat-streams">-</b><span>open streams</span></div>
  <div class="stat"><b id="stat-events">-</b><span>events / s</span></div>
  <div class="stat"><b id="stat-deliveries">-</b><span>deliveries / s</span></div>
  <div class="stat"><b id="stat-bytes">-</b><span>bytes / stream (RSS growth)</span></div>
</div>
<h2 style="font-size:1.1rem;margin-top:1.4rem">Events</h2>
<ol id="events"></ol>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const topic = (params.get("topic") || "demo").replace(/[^A-Za-z0-9._~-]/g, "");
document.getElementById("topic").textContent = topic;
document.getElementById("hint").textContent =
  "curl -X POST --data-binary 'hello' " + location.origin + "/pub/" + topic;
const list = document.getElementById("events");
const status = document.getElementById("status");
const events = new EventSource("/sse/" + encodeURIComponent(topic));
function show(kind, text, id) {
  const li = document.createElement("li");
  li.textContent = text;
  if (kind === "gap") li.style.color = "#b42318";
  const small = document.createElement("small");
  small.textContent = (kind !== "message" ? kind + " " : "") + (id || "");
  li.appendChild(small);
  list.appendChild(li);
  while (list.children.length > 200) list.removeChild(list.firstChild);
  list.scrollTop = list.scrollHeight;
}
events.onopen = () => { status.textContent = "open"; status.className = "ok"; };
events.onerror = () => { status.textContent = "reconnecting"; status.className = "down"; };
events.onmessage = (e) => show("message", e.data, e.lastEventId);
events.addEventListener("gap", (e) => show("gap", e.data, ""));
const stats = new EventSource("/sse/_stats");
const fmt = (x) => Number(x).toLocaleString("en-US", { maximumFractionDigits: 1 });
stats.addEventListener("stats", (e) => {
  const s = JSON.parse(e.data);
  document.getElementById("stat-streams").textContent = fmt(s.streams);
  document.getElementById("stat-events").textContent = fmt(s.events_per_s);
  document.getElementById("stat-deliveries").textContent = fmt(s.deliveries_per_s);
  document.getElementById("stat-bytes").textContent = fmt(s.bytes_per_stream);
});
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view live_page_html() { return kPage; }

}  // namespace ringcast::http
