// What a browser would never send, sent anyway: malformed JSON, wrong types, oversized
// frames, binary frames, bad origins, unknown sessions, over the WebSocket and the HTTP
// fallback. The server answers with the right error, keeps going, and never crashes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { rawWebSocket, request, startTandem } from './harness.mjs';

let tandem;
const EVIL = 'https://evil.example';
const FRIEND = 'https://friend.example';

before(async () => {
  tandem = await startTandem({
    allowed_origins: [FRIEND],
    max_frame_bytes: 4096,
    max_text_chars: 500,
    poll_timeout_seconds: 1,
    socket_idle_timeout_seconds: 2,
  });
});
after(async () => {
  if (tandem) await tandem.stop();
});

const api = (body, headers = {}, path = '/widget/api') =>
  request(tandem.port, {
    method: 'POST',
    path,
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('socket: a bad origin is refused with 403 before any upgrade', async () => {
  for (const origin of [EVIL, 'null', 'http://127.0.0.1:1', 'not an origin']) {
    const ws = await rawWebSocket(tandem.port, { origin });
    assert.equal(ws.status, 403, origin);
    ws.close();
  }
  for (const origin of [FRIEND, tandem.origin, undefined]) {
    const ws = await rawWebSocket(tandem.port, { origin });
    assert.equal(ws.status, 101, String(origin));
    ws.close();
  }
});

test('socket: malformed JSON and wrong types get error frames; the socket lives on', async () => {
  const ws = await rawWebSocket(tandem.port, { origin: FRIEND });
  const cases = [
    ['{', 'bad_json'],
    ['[]', 'bad_frame'],
    ['{"type":42}', 'bad_frame'],
    ['{"type":"reboot"}', 'unknown_type'],
    ['{"type":"message","client_msg_id":"a","text":"hi"}', 'no_session'],
    ['{"type":"resume","session_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","last_seq":0}', 'unknown_session'],
    ['{"type":"resume","session_id":"x"}', 'unknown_session'],
    ['{"type":"resume","session_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","last_seq":-4}', 'bad_frame'],
    ['{"type":"message","client_msg_id":"a","text":{"$gt":""}}', 'bad_frame'],
    [JSON.stringify({ type: 'message', client_msg_id: 'a', text: 'x'.repeat(501) }), 'too_long'],
  ];
  for (const [raw, code] of cases) {
    ws.send(raw);
    const f = await ws.json();
    assert.equal(f.type, 'error', raw);
    assert.equal(f.code, code, raw);
  }
  ws.send('{"type":"start"}');
  const ready = await ws.json();
  assert.equal(ready.type, 'ready');
  ws.send('{"type":"message","client_msg_id":"m1","text":"hi"}');
  const types = [];
  for (;;) {
    const f = await ws.json();
    types.push(f.type);
    if (f.type === 'bot') break;
  }
  assert.deepEqual(types, ['user', 'typing', 'ack', 'bot']);
  ws.send('{"type":"message","client_msg_id":"m2","option_id":"not-offered-here"}');
  let f = await ws.json();
  while (f.type === 'typing') f = await ws.json();
  assert.equal(f.code, 'unknown_option');
  ws.close();
});

test('socket: an oversized frame closes with 1009, a binary one with 1003', async () => {
  const big = await rawWebSocket(tandem.port, { origin: FRIEND });
  big.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }));
  assert.deepEqual(await big.json(), { close: 1009 });
  big.close();
  const bin = await rawWebSocket(tandem.port, { origin: FRIEND });
  bin.sendBinary([1, 2, 3]);
  assert.deepEqual(await bin.json(), { close: 1003 });
  bin.close();
  // The server is fine.
  const ok = await rawWebSocket(tandem.port, { origin: FRIEND });
  ok.send('{"type":"ping"}');
  assert.deepEqual(await ok.json(), { type: 'pong' });
  ok.close();
});

test('socket: a silent peer is pinged at half the idle timeout and dropped after it', async () => {
  const answering = await rawWebSocket(tandem.port, { origin: FRIEND });
  const silent = await rawWebSocket(tandem.port, { origin: FRIEND, autoPong: false });
  const t0 = Date.now();
  const ping = await silent.next(3000);
  assert.equal(ping.opcode, 0x9, 'a ping');
  assert.ok(Date.now() - t0 >= 800 && Date.now() - t0 < 2000, `pinged after ${Date.now() - t0} ms`);
  const end = await silent.next(4000);
  assert.equal(end, null, 'closed');
  assert.ok(Date.now() - t0 < 3500, `dropped after ${Date.now() - t0} ms`);
  // A peer that answers pings stays.
  answering.send('{"type":"ping"}');
  let f = await answering.next(3000);
  while (f && f.opcode === 0x9) f = await answering.next(3000);
  assert.equal(f.opcode, 0x1);
  assert.deepEqual(JSON.parse(f.payload.toString()), { type: 'pong' });
  answering.close();
});

test('HTTP: bad origin 403 without CORS; an allowed one gets CORS and a preflight', async () => {
  const evil = await api({ type: 'ping' }, { Origin: EVIL });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  const pre = await request(tandem.port, {
    method: 'OPTIONS',
    path: '/widget/api',
    headers: { Origin: FRIEND, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], FRIEND);
  assert.match(pre.headers['access-control-allow-headers'], /Content-Type/i);
  assert.match(pre.headers.vary, /Origin/);
  const evilPre = await request(tandem.port, { method: 'OPTIONS', path: '/widget/poll', headers: { Origin: EVIL } });
  assert.equal(evilPre.status, 403);
  const friend = await api({ type: 'ping' }, { Origin: FRIEND });
  assert.equal(friend.status, 200);
  assert.equal(friend.headers['access-control-allow-origin'], FRIEND);
  assert.deepEqual(friend.json, { frames: [{ type: 'pong' }] });
  assert.equal(friend.headers['access-control-allow-credentials'], undefined);
});

test('HTTP: malformed JSON 400, wrong types 400, too large 413, wrong media type 415', async () => {
  let r = await api('{"type":');
  assert.equal(r.status, 400);
  assert.equal(r.json.frames[0].code, 'bad_json');
  r = await api({ type: ['start'] });
  assert.equal(r.status, 400);
  assert.equal(r.json.frames[0].code, 'bad_frame');
  r = await api({ type: 'poll', session_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
  assert.equal(r.status, 400, 'polls go to /widget/poll');
  r = await api({ type: 'ping', pad: 'x'.repeat(5000) });
  assert.equal(r.status, 413);
  r = await api('{"type":"ping"}', { 'Content-Type': 'application/x-www-form-urlencoded' });
  assert.equal(r.status, 415);
  r = await request(tandem.port, { path: '/widget/api' });
  assert.equal(r.status, 405);
  r = await request(tandem.port, { path: '/widget/socket' });
  assert.equal(r.status, 426, 'the socket path without an upgrade');
  r = await request(tandem.port, { path: '/widget.js.map' });
  assert.equal(r.status, 404);
});

test('HTTP: unknown sessions are 404; a whole exchange and a quiet long-poll work', async () => {
  let r = await api({ type: 'resume', session_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', last_seq: 0 });
  assert.equal(r.status, 404);
  assert.equal(r.json.frames[0].code, 'unknown_session');
  r = await api({ type: 'poll', session_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', last_seq: 0 }, {}, '/widget/poll');
  assert.equal(r.status, 404);
  r = await api({ type: 'message', session_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', client_msg_id: 'a', text: 'hi' });
  assert.equal(r.status, 404);

  r = await api({ type: 'start' });
  assert.equal(r.status, 200);
  const sid = r.json.frames[0].session_id;
  assert.match(sid, /^[A-Za-z0-9_-]{32}$/);
  r = await api({ type: 'message', session_id: sid, last_seq: 0, client_msg_id: 'h1', text: 'hi' });
  assert.deepEqual(r.json.frames.map((f) => f.type), ['user', 'typing', 'ack', 'bot', 'typing']);
  r = await api({ type: 'message', session_id: sid, last_seq: 2, client_msg_id: 'h1', text: 'hi' });
  assert.deepEqual(r.json.frames, [{ type: 'ack', client_msg_id: 'h1', seq: 1, duplicate: true }]);
  const t0 = Date.now();
  r = await api({ type: 'poll', session_id: sid, last_seq: 2 }, {}, '/widget/poll');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.frames, []);
  assert.ok(Date.now() - t0 >= 900, 'a poll with no news waits');
  r = await api({ type: 'poll', session_id: sid, last_seq: 1 }, {}, '/widget/poll');
  assert.deepEqual(r.json.frames.map((f) => f.seq), [2]);
  r = await api({ type: 'forget', session_id: sid });
  assert.deepEqual(r.json.frames, [{ type: 'forgotten' }]);
  r = await api({ type: 'poll', session_id: sid, last_seq: 0 }, {}, '/widget/poll');
  assert.equal(r.status, 404);
});

test('assets: widget.js, the demo page with its CSP, nothing else', async () => {
  const js = await request(tandem.port, { path: '/widget.js' });
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /^text\/javascript/);
  assert.equal(js.headers['x-content-type-options'], 'nosniff');
  const page = await request(tandem.port, { path: '/' });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-security-policy'], /script-src 'self'/);
  assert.match(page.body, /<script src="\/widget.js" defer><\/script>/);
});
