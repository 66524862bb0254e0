// Shared pieces of the widget's browser tests: a real `tandem serve` on 127.0.0.1:0 with the
// fixture content, host pages on other origins, a TCP proxy that can cut the network, a
// raw WebSocket client for bad input, and Debian's chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = path.resolve(here, '..', '..');
export const tandemBin = process.env.TANDEM_BIN || path.join(sourceDir, 'build', 'tandem');
export const chromiumPath = process.env.TANDEM_CHROMIUM || '/usr/bin/chromium';
export const outDir = process.env.TANDEM_BROWSER_OUT || path.join(sourceDir, 'build', 'browser-out');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- tandem serve -----------------------------------------------------------------------

// Starts `tandem serve` on the fixture content (or, with shipped: true, the project's own
// content) with the given widget section. Resolves once it logged its port.
export async function startTandem(widget = {}, { server = {}, shipped = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-browser-'));
  const content = path.join(sourceDir, 'tests', 'data', 'content');
  const config = {
    schema_version: 1,
    data_dir: path.join(dir, 'data'),
    content: shipped
      ? {
          intents_dir: path.join(sourceDir, 'intents'),
          dialogs_dir: path.join(sourceDir, 'dialogs'),
          resources_file: path.join(sourceDir, 'config', 'resources.json'),
          locales_file: path.join(sourceDir, 'config', 'locales.json'),
        }
      : {
          intents_dir: path.join(content, 'intents'),
          dialogs_dir: path.join(content, 'dialogs'),
          resources_file: path.join(content, 'resources.json'),
          locales_file: path.join(content, 'locales.json'),
        },
    store: { kind: 'memory' },
    log: { level: 'info', message_text: false },
    server,
    widget,
  };
  fs.mkdirSync(path.join(dir, 'config'));
  const configPath = path.join(dir, 'config', 'tandem.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const child = spawn(tandemBin, ['serve', '--config', configPath, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  let port = 0;
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tandem serve did not start:\n' + logs.join('\n'))), 20000);
    let buf = '';
    const onData = (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        logs.push(line);
        try {
          const j = JSON.parse(line);
          if (j.event === 'http.listening' && !port) {
            port = j.port;
            clearTimeout(timer);
            resolve();
          }
        } catch (e) {
          // not a log line
        }
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!port) reject(new Error(`tandem serve exited with ${code}:\n` + logs.join('\n')));
    });
  });
  await ready;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    origin: `http://127.0.0.1:${port}`,
    logs,
    async stop() {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer;
        await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 8000)))]);
        clearTimeout(timer);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- host pages on other origins ----------------------------------------------------------

// A tiny site on its own origin (127.0.0.1:<port>). pages maps a path to {body, headers}
// or to a function of the server's own origin returning one.
export async function startSite(pages) {
  const server = http.createServer((req, res) => {
    const p = pages[req.url.split('?')[0]];
    if (!p) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    const page = typeof p === 'function' ? p(site) : p;
    res.writeHead(200, Object.assign({ 'Content-Type': 'text/html; charset=utf-8' }, page.headers || {}));
    res.end(page.body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const site = {
    port: server.address().port,
    get origin() {
      return `http://127.0.0.1:${this.port}`;
    },
    stop: () => new Promise((r) => server.close(r)),
  };
  return site;
}

// ---- a TCP proxy that can cut the network ----------------------------------------------

export async function startProxy(targetPort) {
  let target = targetPort;
  const pairs = new Set();
  let refusing = false;
  let blockWebSockets = false;
  let downstreamOpen = true;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    let first = true;
    client.on('data', (d) => {
      if (first && blockWebSockets && /\r\nupgrade:\s*websocket/i.test(d.toString('latin1'))) {
        end(); // as some corporate proxies do
        return;
      }
      first = false;
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (downstreamOpen) client.write(d);
      // else: the bytes are lost, as on a network that went away mid-reply
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    get url() {
      return `http://127.0.0.1:${this.port}`;
    },
    // Kills every connection and refuses new ones until restore().
    cut() {
      refusing = true;
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
    },
    // Replies stop reaching the browser; requests still reach the server.
    dropReplies() {
      downstreamOpen = false;
    },
    restore() {
      refusing = false;
      downstreamOpen = true;
    },
    // New connections go to another server (a restarted tandem).
    retarget(port) {
      target = port;
    },
    blockWebSockets(on = true) {
      blockWebSockets = on;
    },
    stop: () =>
      new Promise((r) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream.destroy();
        }
        server.close(r);
      }),
  };
}

// ---- a raw WebSocket client (to send what a browser never would) --------------------------

export function rawWebSocket(port, { origin, path: p = '/widget/socket', host, autoPong = true } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    const headers = [
      `GET ${p} HTTP/1.1`,
      `Host: ${host || '127.0.0.1:' + port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
    ];
    if (origin) headers.push(`Origin: ${origin}`);
    sock.write(headers.join('\r\n') + '\r\n\r\n');
    let buf = Buffer.alloc(0);
    let handshake = null;
    const frames = [];
    const waiters = [];
    let closed = false;
    const deliver = () => {
      while (waiters.length && (frames.length || closed)) {
        const w = waiters.shift();
        w(frames.length ? frames.shift() : null);
      }
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!handshake) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end).toString('latin1');
        buf = buf.slice(end + 4);
        const status = Number(head.split(' ')[1]);
        handshake = { status, head };
        const api = {
          status,
          head,
          send: (text) => sendFrame(0x1, Buffer.from(text)),
          sendBinary: (bytes) => sendFrame(0x2, Buffer.from(bytes)),
          next: (timeout = 5000) =>
            new Promise((res) => {
              const t = setTimeout(() => res({ timeout: true }), timeout);
              waiters.push((f) => {
                clearTimeout(t);
                res(f);
              });
              deliver();
            }),
          // The next text frame as JSON (skipping pings).
          async json(timeout = 5000) {
            for (;;) {
              const f = await this.next(timeout);
              if (!f || f.timeout) return f;
              if (f.opcode === 0x1) return JSON.parse(f.payload.toString());
              if (f.opcode === 0x8) return { close: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005 };
            }
          },
          close: () => sock.destroy(),
        };
        resolve(api);
        if (status !== 101) {
          // The body of a refusal, for the curious.
          handshake.body = buf.toString();
          return;
        }
      }
      if (handshake.status !== 101) return;
      // Parse server frames (never masked).
      for (;;) {
        if (buf.length < 2) break;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) break;
        const payload = buf.slice(off, off + len);
        buf = buf.slice(off + len);
        if (opcode === 0x9 && autoPong) sendFrame(0xa, payload); // pong
        frames.push({ opcode, payload });
      }
      deliver();
    });
    sock.on('close', () => {
      closed = true;
      deliver();
    });
    sock.on('error', (e) => {
      if (!handshake) reject(e);
    });
    function sendFrame(opcode, payload) {
      const mask = crypto.randomBytes(4);
      let head;
      if (payload.length < 126) {
        head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
      } else if (payload.length < 65536) {
        head = Buffer.alloc(4);
        head[0] = 0x80 | opcode;
        head[1] = 0x80 | 126;
        head.writeUInt16BE(payload.length, 2);
      } else {
        head = Buffer.alloc(10);
        head[0] = 0x80 | opcode;
        head[1] = 0x80 | 127;
        head.writeBigUInt64BE(BigInt(payload.length), 2);
      }
      const masked = Buffer.alloc(payload.length);
      for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i % 4];
      sock.write(Buffer.concat([head, mask, masked]));
    }
  });
}

// A plain HTTP request; resolves {status, headers, body, json}.
export function request(port, { method = 'GET', path: p = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try {
          json = JSON.parse(text);
        } catch (e) {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// ---- chromium ---------------------------------------------------------------------------

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--font-render-hinting=none',
    ],
  });
}

// A page that records CSP violations and page errors, for tests to assert none happened.
export async function newPage(browser, options = {}) {
  const context = await browser.newContext(Object.assign({ viewport: { width: 1000, height: 720 } }, options));
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon|Failed to load resource|WebSocket connection/.test(m.text()))
      problems.push('console error: ' + m.text());
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  return { context, page, problems };
}

// ---- the widget as a user sees it -------------------------------------------------------

export const W = (page) => ({
  launcher: page.locator('tandem-chat .launcher'),
  panel: page.locator('tandem-chat .panel'),
  input: page.locator('tandem-chat textarea'),
  send: page.locator('tandem-chat .send'),
  log: page.locator('tandem-chat [role="log"]'),
  status: page.locator('tandem-chat .status'),
  typing: page.locator('tandem-chat .typing'),
  forget: page.locator('tandem-chat header .text-btn'),
  option: (label) => page.locator('tandem-chat .options button', { hasText: label }),
  options: page.locator('tandem-chat .options button'),
});

// Every bubble and note in the log, in order: "you: …", "bot: …", "note: …".
export async function transcript(page) {
  return page.evaluate(() => {
    const log = document.querySelector('tandem-chat').shadowRoot.querySelector('[role="log"]');
    const out = [];
    for (const n of log.children) {
      if (n.classList.contains('welcome')) continue;
      const text = Array.from(n.childNodes)
        .filter((c) => !(c.classList && (c.classList.contains('who') || c.classList.contains('meta'))))
        .map((c) => c.textContent)
        .join('')
        .trim();
      if (n.classList.contains('user')) out.push('you: ' + text);
      // The fixture greets with one of three variants, chosen per conversation.
      else if (n.classList.contains('bot')) out.push('bot: ' + text.replace(/^HELLO (one|two|three)\.$/, 'HELLO *.'));
      else if (n.classList.contains('system')) out.push('note: ' + text);
    }
    return out;
  });
}

// The seq of every conversation message shown, in order.
export async function shownSeqs(page) {
  return page.evaluate(() =>
    Array.from(
      document.querySelector('tandem-chat').shadowRoot.querySelectorAll('[role="log"] [data-seq]'),
      (n) => Number(n.dataset.seq),
    ),
  );
}

export async function type(page, text) {
  const w = W(page);
  await w.input.fill(text);
  await w.input.press('Enter');
}

// Waits until the transcript contains `text` (a bubble ending with it).
export async function waitForText(page, text, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const t = await transcript(page);
    if (t.some((l) => l.includes(text))) return t;
    if (Date.now() > deadline) throw new Error(`"${text}" never appeared; the log shows:\n` + t.join('\n'));
    await sleep(50);
  }
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations || []);
}

export function ensureDir(d) {
  fs.mkdirSync(d, { recursive: true });
  return d;
}
