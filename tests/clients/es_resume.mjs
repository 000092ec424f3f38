#!/usr/bin/env node
// A real EventSource client (the `eventsource` npm package) for ringcast's integration tests.
//
//   node es_resume.mjs URL COUNT TIMEOUT_S [--last-event-id ID] [--types a,b,...]
//
// Connects to URL and collects events until COUNT events other than `gap` events have
// arrived, then prints a JSON report on stdout and exits 0. Reconnecting is left to the
// package: when the server ends the stream it waits `retry:` ms and reconnects with the
// `Last-Event-ID` header of the last event it received, exactly as a browser does.
// After TIMEOUT_S seconds, or if the package gives up (a non-200 answer closes an EventSource
// for good), it prints the report of what it has and exits 1.
//
//   --last-event-id ID  sent as `Last-Event-ID` on the first connection too (a client
//                       resuming from an id it stored earlier); the package sends its own
//                       on every reconnection.
//   --types a,b         event types to listen for besides `message` and `gap`.
//
// Progress goes to stderr as lines `es_resume: {json}` ({"open":n}, {"events":n},
// {"error":"..."}), so a test can wait for the subscription before it publishes.
//
// Report: {"reason": "complete"|"timeout"|"closed", "url", "wanted", "received",
//          "opens": number of `open` events (1 + reconnections),
//          "connections": [{"lastEventId": header sent or null}, ...] (one per fetch),
//          "events": [{"type", "id", "data"}, ...] in arrival order, gap events included,
//          "gaps": [{"data", "parsed"}], "errors": ["..."]}
import { EventSource } from 'eventsource';

function usage(message) {
  process.stderr.write(`es_resume: ${message}\n` +
    'usage: node es_resume.mjs URL COUNT TIMEOUT_S [--last-event-id ID] [--types a,b]\n');
  process.exit(2);
}

const argv = process.argv.slice(2);
const positional = [];
const options = { lastEventId: undefined, types: [] };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--last-event-id') {
    if (i + 1 >= argv.length) usage('--last-event-id needs a value');
    options.lastEventId = argv[++i];
  } else if (a === '--types') {
    if (i + 1 >= argv.length) usage('--types needs a value');
    options.types = argv[++i].split(',').filter((t) => t !== '');
  } else if (a.startsWith('--')) {
    usage(`unknown option ${a}`);
  } else {
    positional.push(a);
  }
}
if (positional.length !== 3) usage('expected URL COUNT TIMEOUT_S');
const [url, countText, timeoutText] = positional;
const wanted = Number(countText);
const timeoutS = Number(timeoutText);
if (!Number.isInteger(wanted) || wanted < 0) usage(`bad COUNT ${countText}`);
if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage(`bad TIMEOUT_S ${timeoutText}`);

const report = {
  reason: null,
  url,
  wanted,
  received: 0,
  opens: 0,
  connections: [],
  events: [],
  gaps: [],
  errors: [],
};

function progress(obj) {
  process.stderr.write(`es_resume: ${JSON.stringify(obj)}\n`);
}

// The package calls fetch(url, init) for every (re)connection with init.headers a plain
// object; this wrapper records the Last-Event-ID it sends and adds ours to the first one.
let fetches = 0;
function recordingFetch(input, init = {}) {
  fetches += 1;
  const headers = { ...(init.headers || {}) };
  if (fetches === 1 && options.lastEventId !== undefined && !('Last-Event-ID' in headers)) {
    headers['Last-Event-ID'] = options.lastEventId;
  }
  report.connections.push({ lastEventId: headers['Last-Event-ID'] ?? null });
  return globalThis.fetch(input, { ...init, headers });
}

let finished = false;
let es = null;
function finish(reason, code) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  report.reason = reason;
  if (es) es.close();
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(code));
}

const timer = setTimeout(() => finish('timeout', 1), timeoutS * 1000);

if (typeof globalThis.fetch !== 'function') {
  report.errors.push(`node ${process.version} has no global fetch`);
  finish('closed', 1);
} else {
  es = new EventSource(url, { fetch: recordingFetch });

  es.addEventListener('open', () => {
    report.opens += 1;
    progress({ open: report.opens });
  });

  es.addEventListener('error', (e) => {
    const message = e.message ?? (e.code !== undefined ? `error (${e.code})` : 'error');
    report.errors.push(message);
    progress({ error: message, readyState: es.readyState });
    // CLOSED after an error means the package will not reconnect (non-200, wrong type).
    if (es.readyState === EventSource.CLOSED) finish('closed', 1);
  });

  const onEvent = (e) => {
    if (finished) return;
    const ev = { type: e.type, id: e.lastEventId, data: e.data };
    report.events.push(ev);
    if (e.type === 'gap') {
      let parsed = null;
      try {
        parsed = JSON.parse(e.data);
      } catch {
        parsed = null;
      }
      report.gaps.push({ data: e.data, parsed });
      progress({ gap: e.data });
      return;
    }
    report.received += 1;
    progress({ events: report.received });
    if (report.received >= wanted) finish('complete', 0);
  };
  for (const type of new Set(['message', 'gap', ...options.types])) {
    es.addEventListener(type, onEvent);
  }
  if (wanted === 0) finish('complete', 0);
}
