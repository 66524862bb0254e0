// The network misbehaves: the connection is cut while a reply is on its way, WebSockets are
// blocked. The widget shows what is happening, recovers by itself, and the conversation
// ends up with every message exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { W, launchBrowser, newPage, shownSeqs, sleep, startProxy, startTandem, transcript, type, waitForText } from './harness.mjs';

let tandem;
let browser;

before(async () => {
  tandem = await startTandem({ poll_timeout_seconds: 5 });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (tandem) await tandem.stop();
});

async function waitForState(page, state, timeout = 15000) {
  await page.waitForFunction(
    (s) => document.querySelector('tandem-chat').shadowRoot.querySelector('.status').dataset.state === s,
    state,
    { timeout },
  );
}

function assertEachOnce(t) {
  const counts = new Map();
  for (const line of t) counts.set(line, (counts.get(line) || 0) + 1);
  for (const [line, n] of counts) {
    if (line === 'you: hi' || line.startsWith('bot: NOTE') || line.startsWith('bot: HELLO') || line.startsWith('bot: MENU')) continue;
    assert.equal(n, 1, `"${line}" shown ${n} times in:\n${t.join('\n')}`);
  }
}

test('a cut while a reply is on its way: recovery with no duplicate and no missing message', async () => {
  const proxy = await startProxy(tandem.port);
  const { context, page, problems } = await newPage(browser);
  try {
    await page.goto(proxy.url + '/');
    const w = W(page);
    await w.launcher.click();
    await type(page, 'hi');
    await w.option('Feeling far apart').waitFor();
    await waitForState(page, 'online');

    // The choice reaches the server, but its echo and the reply are lost on the way back.
    proxy.dropReplies();
    await w.option('Feeling far apart').click();
    await sleep(400); // the server has answered into the void by now
    proxy.cut();
    await waitForState(page, 'retrying');
    assert.match(await w.status.textContent(), /Connection lost\. Trying again in \d+ s\./);
    // A message written while offline waits, visibly.
    await type(page, 'hi');
    await page.locator('tandem-chat .msg.user.pending').last().waitFor();
    assert.match(await page.locator('tandem-chat .msg.user.pending').last().textContent(), /Waiting to send/);

    proxy.restore();
    await waitForState(page, 'online', 40000);
    await waitForText(page, 'DISTANT: it sounds like you miss being close.');
    // The "hi" written offline is answered too (the menu again).
    await page.waitForFunction(
      () => document.querySelector('tandem-chat').shadowRoot.querySelectorAll('.msg.user:not(.pending)').length === 3,
    );
    await page.locator('tandem-chat .options button').first().waitFor();
    const t = await transcript(page);
    assertEachOnce(t);
    assert.deepEqual(
      t.filter((l) => l.startsWith('you: ')),
      ['you: hi', 'you: Feeling far apart', 'you: hi'],
    );
    assert.equal(t.filter((l) => l.startsWith('bot: DISTANT:')).length, 1);
    const seqs = await shownSeqs(page);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'every seq once, in order');
    assert.equal(seqs.length, 6);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await proxy.stop();
  }
});

test('the server goes away and comes back: the widget retries with backoff, then resumes', async () => {
  const proxy = await startProxy(tandem.port);
  const { context, page } = await newPage(browser);
  try {
    await page.goto(proxy.url + '/');
    const w = W(page);
    await w.launcher.click();
    await type(page, 'hi');
    await w.option('Feeling far apart').waitFor();
    proxy.cut();
    // Several attempts fail; the waits grow (0.5 s, 1 s, 2 s, ... with jitter).
    const seen = [];
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline) {
      const s = await w.status.textContent();
      if (!seen.includes(s)) seen.push(s);
      await sleep(100);
    }
    const waits = seen.map((s) => /in (\d+) s/.exec(s)).filter(Boolean).map((m) => Number(m[1]));
    assert.ok(waits.length >= 2, 'several retries were announced: ' + seen.join(' | '));
    assert.ok(Math.max(...waits) >= 2, 'the wait grows: ' + seen.join(' | '));
    proxy.restore();
    // "Try now" skips the wait. A retry whose timer fires right after restore() may already
    // be back online and have hidden the button: then there is nothing to click.
    const tryNow = page.locator('tandem-chat .status .linkish');
    if (await tryNow.isVisible()) await tryNow.click({ timeout: 3000 }).catch(() => {});
    await waitForState(page, 'online', 8000);
    await w.option('Feeling far apart').click();
    await waitForText(page, 'Pick one.');
    assertEachOnce(await transcript(page));
  } finally {
    await context.close();
    await proxy.stop();
  }
});

test('a restarted server no longer knows the session: the widget says so and starts afresh', async () => {
  const proxy = await startProxy(tandem.port);
  const restarted = await startTandem({});
  const { context, page, problems } = await newPage(browser);
  try {
    await page.goto(proxy.url + '/');
    const w = W(page);
    await w.launcher.click();
    await type(page, 'hi');
    await w.option('Feeling far apart').waitFor();
    proxy.cut();
    await waitForState(page, 'retrying');
    proxy.retarget(restarted.port);
    proxy.restore();
    await waitForText(page, 'Your earlier chat has ended', 40000);
    await type(page, 'hi');
    await w.option('Feeling far apart').waitFor();
    const t = await transcript(page);
    assert.equal(t[0], 'you: hi', 'what was on screen stays');
    assert.ok(t.includes('note: Your earlier chat has ended, so this is a fresh start.'));
    assert.equal(t.filter((l) => l === 'you: hi').length, 2);
    // The new session counts from 1 again.
    assert.deepEqual((await shownSeqs(page)).slice(-2), [1, 2]);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await proxy.stop();
    await restarted.stop();
  }
});

test('WebSockets blocked: the widget falls back to plain HTTP and works the same', async () => {
  const proxy = await startProxy(tandem.port);
  proxy.blockWebSockets();
  const { context, page, problems } = await newPage(browser);
  try {
    await page.goto(proxy.url + '/');
    const w = W(page);
    await w.launcher.click();
    await waitForState(page, 'online', 20000);
    assert.equal(await page.locator('tandem-chat .status-text').textContent(), 'Connected (slower mode)');
    await type(page, 'hi');
    await w.option('Feeling far apart').click();
    await waitForText(page, 'Pick one.');
    await w.option('Talk about it').click();
    await waitForText(page, 'DISTANT DONE.');
    const t = await transcript(page);
    assertEachOnce(t);
    assert.deepEqual(await shownSeqs(page), [1, 2, 3, 4, 5, 6]);
    // A reload over HTTP resumes too.
    await page.reload();
    await waitForText(page, 'DISTANT DONE.', 20000);
    assert.deepEqual(await transcript(page), t);
    // And a cut during a long-poll recovers.
    proxy.cut();
    await waitForState(page, 'retrying');
    proxy.restore();
    await waitForState(page, 'online', 40000);
    await type(page, 'hi');
    await w.option('Wanting more space').waitFor();
    assert.deepEqual(await shownSeqs(page), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await proxy.stop();
  }
});

test('data-transport="http" uses the fallback from the start', async () => {
  const { context, page } = await newPage(browser);
  try {
    // The demo page with the tag rewritten, as a site would write it.
    await page.route(tandem.url + '/', async (route) => {
      const res = await route.fetch();
      const body = (await res.text()).replace('<script src="/widget.js" defer>', '<script src="/widget.js" data-transport="http" defer>');
      await route.fulfill({ response: res, body });
    });
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(tandem.url + '/');
    await W(page).launcher.click();
    await type(page, 'hi');
    await W(page).option('Feeling far apart').waitFor();
    assert.equal(await page.locator('tandem-chat .status-text').textContent(), 'Connected (slower mode)');
    assert.deepEqual(sockets, []);
  } finally {
    await context.close();
  }
});
