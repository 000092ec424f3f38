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
  .charts { display: grid; grid-template-columns: repeat(2, minmax(12rem, 1fr)); gap: .8rem; max-width: 52rem; margin-top: .8rem; }
  .chart { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: .5rem .7rem; }
  .chart span { color: #5b6474; font-size: .85rem; }
  .chart svg { display: block; width: 100%; height: 60px; }
</style>
</head>
<body>
<h1>ringcast</h1>
<div class="sub">Topic <code id="topic"></code> &middot; stream <span id="status">connecting</span>
  &middot; publish with <code id="hint"></code></div>
<div class="stats">
  <div class="stat"><b id="stat-listeners">-</b><span>listening to this topic</span></div>
  <div class="stat"><b id="stat-streams">-</b><span>open streams</span></div>
  <div class="stat"><b id="stat-events">-</b><span>events / s</span></div>
  <div class="stat"><b id="stat-deliveries">-</b><span>deliveries / s</span></div>
  <div class="stat"><b id="stat-bytes">-</b><span>bytes / stream (RSS growth, from 1,000 streams)</span></div>
</div>
<div class="charts">
  <div class="chart"><span>streams, last 5 min</span><svg id="chart-streams" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
  <div class="chart"><span>events / s</span><svg id="chart-events" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
  <div class="chart"><span>deliveries / s</span><svg id="chart-deliveries" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
  <div class="chart"><span>memory (RSS, MiB)</span><svg id="chart-rss" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
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
// The last 5 minutes of the numbers "_stats" sends once a second, drawn as inline SVG.
const kPoints = 300;
const history = { streams: [], events: [], deliveries: [], rss: [] };
function plot(id, values) {
  const svg = document.getElementById("chart-" + id);
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * 300 / (kPoints - 1)).toFixed(1) + "," +
                                   (58 - 56 * v / max).toFixed(1)).join(" ");
  svg.innerHTML = '<polyline fill="none" stroke="#2f6fde" stroke-width="1.5" points="' + pts + '"/>' +
    '<text x="298" y="10" font-size="9" text-anchor="end" fill="#5b6474">' + fmt(max) + '</text>';
}
stats.addEventListener("stats", (e) => {
  const s = JSON.parse(e.data);
  document.getElementById("stat-streams").textContent = fmt(s.streams);
  document.getElementById("stat-events").textContent = fmt(s.events_per_s);
  document.getElementById("stat-deliveries").textContent = fmt(s.deliveries_per_s);
  // Below 1,000 streams the RSS growth is noise (allocator pages, buffers), not a cost per stream.
  document.getElementById("stat-bytes").textContent = s.streams >= 1000 ? fmt(s.bytes_per_stream) : "-";
  const sample = { streams: s.streams, events: s.events_per_s, deliveries: s.deliveries_per_s,
                   rss: s.rss_bytes / 1048576 };
  for (const k in history) {
    history[k].push(sample[k]);
    if (history[k].length > kPoints) history[k].shift();
    plot(k, history[k]);
  }
});
// Who is listening: the topic's subscriber count from /topics/T, every 2 s (works without
// --occupancy-events; 404 until someone subscribes or publishes).
async function listeners() {
  try {
    const r = await fetch("/topics/" + encodeURIComponent(topic), { cache: "no-store" });
    const el = document.getElementById("stat-listeners");
    if (r.status === 404) { el.textContent = "0"; return; }
    if (!r.ok) { el.textContent = "-"; return; }
    const t = await r.json();
    el.textContent = fmt(t.subscribersCluster) + (t.subscribersCluster !== t.subscribers ?
                     " (" + fmt(t.subscribers) + " here)" : "");
  } catch (err) { /* the server restarts: try again on the next round */ }
}
listeners();
setInterval(listeners, 2000);
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view live_page_html() { return kPage; }

}  // namespace ringcast::http
