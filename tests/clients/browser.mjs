#!/usr/bin/env node
// Drives one headless Chromium page for ringcast's integration tests, over stdin/stdout.
//
//   node browser.mjs [--timeout-s N] [--chromium PATH] [--user-data-dir DIR]
//
// Launches Debian's Chromium (default /usr/bin/chromium) through playwright-core's CDP
// pipe with a fresh profile: DIR (an empty folder the caller made and removes), or a
// temporary folder this program removes when it exits; playwright-core never downloads a
// browser. Every request that is not to the loopback address goes to a dead proxy on
// 127.0.0.1:9 and every host name but 127.0.0.1 resolves to nothing, so the browser only
// talks to 127.0.0.1.
//
// Protocol: one JSON object per line each way. The first line written is
//   {"id":0,"ok":true,"version":"..."}   (or ok:false and "error" if Chromium did not start)
// then each request {"id":n,"op":...} gets one answer {"id":n,"ok":true,...} or
// {"id":n,"ok":false,"error":"...","logs":[...]}. Requests run one at a time, in order.
//
//   {"op":"init_script","script":JS}          run JS in every page before its own scripts
//   {"op":"goto","url":U,"timeout_ms":N}      -> {"status":200,"contentType":"..."}
//   {"op":"eval","expr":JS}                   -> {"value":...} (an expression; promises awaited)
//   {"op":"wait","expr":JS,"timeout_ms":N}    until JS is truthy (polled) -> {"value":...}
//   {"op":"screenshot","path":P}              full-page PNG
//   {"op":"logs"}                             -> {"logs":[console messages, page errors,
//                                                   failed requests]}
//   {"op":"close"}                            answers, closes the browser and exits 0
//
// End of stdin closes the browser too. After --timeout-s seconds (default 120) the program
// writes {"id":-1,"ok":false,"error":"browser.mjs gave up after Ns"} and exits 1 whatever
// it was doing.
import { chromium } from 'playwright-core';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

function usage(message) {
  process.stderr.write(`browser: ${message}\n` +
    'usage: node browser.mjs [--timeout-s N] [--chromium PATH] [--user-data-dir DIR]\n');
  process.exit(2);
}

let timeoutS = 120;
let executablePath = '/usr/bin/chromium';
let givenUserDataDir = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--timeout-s' && i + 1 < argv.length) {
    timeoutS = Number(argv[++i]);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) usage('bad --timeout-s');
  } else if (argv[i] === '--chromium' && i + 1 < argv.length) {
    executablePath = argv[++i];
  } else if (argv[i] === '--user-data-dir' && i + 1 < argv.length) {
    givenUserDataDir = argv[++i];
  } else {
    usage(`unknown argument ${argv[i]}`);
  }
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // Loopback only: 127.0.0.1 bypasses proxies implicitly; anything else hits a closed port.
  '--proxy-server=http://127.0.0.1:9',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

const logs = [];
const MAX_LOGS = 500;
function log(line) {
  if (logs.length < MAX_LOGS) logs.push(line);
}

function send(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

let context = null;
let userDataDir = givenUserDataDir;
let ownUserDataDir = false; // made here, so removed here
let exiting = false;
async function shutdown(code) {
  if (exiting) return;
  exiting = true;
  clearTimeout(timer);
  try {
    if (context) await context.close();
  } catch (e) {
    process.stderr.write(`browser: closing Chromium: ${e}\n`);
  }
  if (ownUserDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  process.exit(code); // stdout is a pipe or a file: writes to it are synchronous on Linux
}

const timer = setTimeout(() => {
  send({ id: -1, ok: false, error: `browser.mjs gave up after ${timeoutS}s`, logs });
  shutdown(1);
}, timeoutS * 1000);

let page;
try {
  if (userDataDir === null) {
    userDataDir = await mkdtemp(path.join(tmpdir(), 'ringcast-chromium-'));
    ownUserDataDir = true;
  }
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30000,
    viewport: { width: 1024, height: 768 },
  });
  page = context.pages()[0] ?? (await context.newPage());
} catch (e) {
  send({ id: 0, ok: false, error: `could not start ${executablePath}: ${e.message ?? e}` });
  await shutdown(1); // exits
}

page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => log(`pageerror: ${e.message ?? e}`));
page.on('requestfailed', (r) => {
  // An EventSource that the server closes, or that we abort, ends as a failed request too.
  log(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`);
});
page.on('crash', () => log('page crashed'));

const version = context.browser()?.version() ?? 'unknown';
send({ id: 0, ok: true, version });

async function handle(req) {
  switch (req.op) {
    case 'init_script':
      await context.addInitScript({ content: String(req.script) });
      return {};
    case 'goto': {
      const resp = await page.goto(req.url, { timeout: req.timeout_ms ?? 15000 });
      return {
        status: resp ? resp.status() : null,
        contentType: resp ? (resp.headers()['content-type'] ?? null) : null,
      };
    }
    case 'eval':
      return { value: await page.evaluate(String(req.expr)) };
    case 'wait': {
      const handle = await page.waitForFunction(String(req.expr), undefined, {
        timeout: req.timeout_ms ?? 15000,
        polling: req.polling_ms ?? 50,
      });
      const value = await handle.jsonValue().catch(() => true);
      await handle.dispose().catch(() => {});
      return { value };
    }
    case 'screenshot':
      await mkdir(path.dirname(req.path), { recursive: true });
      await page.screenshot({ path: req.path, fullPage: true });
      return { path: req.path };
    case 'logs':
      return { logs };
    case 'close':
      return {};
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (line.trim() === '') return;
  chain = chain.then(async () => {
    if (exiting) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      send({ id: null, ok: false, error: `bad request line: ${e.message}` });
      return;
    }
    try {
      const result = await handle(req);
      send({ id: req.id, ok: true, ...result });
      if (req.op === 'close') await shutdown(0);
    } catch (e) {
      send({ id: req.id, ok: false, error: String(e.message ?? e), logs });
    }
  });
});
rl.on('close', () => {
  chain = chain.then(() => shutdown(0));
});
