// The widget on someone else's site: one script tag on a page from another origin, under a
// strict Content-Security-Policy and hostile CSS; allowed origins work, others are refused.
// Also the screenshots for the README (light and dark) and a contrast check of both themes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  W,
  cspViolations,
  ensureDir,
  launchBrowser,
  newPage,
  outDir,
  rawWebSocket,
  sourceDir,
  startSite,
  startTandem,
  transcript,
  type,
  waitForText,
} from './harness.mjs';

let tandem;
let browser;
let allowed; // a blog on another origin, on the allow-list
let stranger; // a page on an origin nobody allowed

// A host page as a site would write it: strict CSP, its own rude CSS, one script tag.
function hostPage(tandemOrigin, attrs = '') {
  return (site) => ({
    headers: {
      'Content-Security-Policy':
        `default-src 'none'; script-src ${tandemOrigin}; ` +
        `connect-src ${tandemOrigin} ${tandemOrigin.replace('http:', 'ws:')}; ` +
        `style-src ${site.origin}; img-src 'none'; base-uri 'none'`,
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A blog</title>
<link rel="stylesheet" href="/rude.css"></head>
<body><h1>Notes on staying close</h1><p>Some post.</p>
<script src="${tandemOrigin}/widget.js" ${attrs} defer></script></body></html>`,
  });
}
const RUDE_CSS = {
  headers: { 'Content-Type': 'text/css' },
  body: `* { font-family: "Comic Sans MS", cursive !important; color: #f0f !important; }
button { display: none !important; } div, section { background: lime !important; }
tandem-chat { opacity: .2; transform: rotate(3deg); }`,
};

before(async () => {
  // The sites exist before tandem (it must know their origins), and learn its origin after.
  let tandemOrigin = '';
  const pages = {
    '/': (site) => hostPage(tandemOrigin)(site),
    '/custom': (site) =>
      hostPage(
        tandemOrigin,
        'data-theme="dark" data-position="left" data-accent="#b5305c" data-storage="session" ' +
          'data-title="Talk it through" data-text-launcher="Talk it through" data-text-send="Go" data-lang="en"',
      )(site),
    '/rude.css': RUDE_CSS,
  };
  allowed = await startSite(pages);
  stranger = await startSite(pages);
  tandem = await startTandem({ allowed_origins: [allowed.origin] });
  tandemOrigin = tandem.origin;
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  for (const s of [allowed, stranger]) if (s) await s.stop();
  if (tandem) await tandem.stop();
});

test('embedded on an allowed origin under a strict CSP and hostile CSS, it just works', async () => {
  const { context, page, problems } = await newPage(browser);
  await page.goto(allowed.origin + '/');
  const w = W(page);
  await w.launcher.click();
  await type(page, 'hi');
  await w.option('Feeling far apart').click();
  await waitForText(page, 'Pick one.');
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);
  // The page's CSS did not reach inside: buttons show, in the widget's own font and colours.
  const look = await page.evaluate(() => {
    const root = document.querySelector('tandem-chat').shadowRoot;
    const b = root.querySelector('.options button');
    const s = getComputedStyle(b);
    return { display: s.display, font: s.fontFamily, color: s.color };
  });
  assert.notEqual(look.display, 'none');
  assert.doesNotMatch(look.font, /Comic/);
  assert.notEqual(look.color, 'rgb(255, 0, 255)');
  await context.close();
});

test('an origin that is not allowed is refused: 403 on the handshake, no conversation', async () => {
  const refused = await rawWebSocket(tandem.port, { origin: stranger.origin });
  assert.equal(refused.status, 403);
  refused.close();
  const ok = await rawWebSocket(tandem.port, { origin: allowed.origin });
  assert.equal(ok.status, 101);
  ok.close();

  const { context, page } = await newPage(browser);
  await page.goto(stranger.origin + '/');
  const w = W(page);
  await w.launcher.click();
  await type(page, 'hi');
  await page.waitForFunction(
    () => document.querySelector('tandem-chat').shadowRoot.querySelector('.status').dataset.state === 'retrying',
  );
  await new Promise((r) => setTimeout(r, 1500));
  const t = await transcript(page);
  assert.deepEqual(t, ['you: hi'], 'nothing came back');
  assert.match(await page.locator('tandem-chat .msg.user').textContent(), /Waiting to send/);
  await context.close();
});

test('texts, theme, accent, position and storage come from data attributes', async () => {
  const { context, page, problems } = await newPage(browser);
  await page.goto(allowed.origin + '/custom');
  const w = W(page);
  assert.equal(await w.launcher.getAttribute('aria-label'), 'Talk it through');
  await w.launcher.click();
  assert.equal(await page.locator('tandem-chat h2').textContent(), 'Talk it through');
  assert.equal(await w.send.textContent(), 'Go');
  await type(page, 'hi');
  await w.option('Feeling far apart').waitFor();
  const info = await page.evaluate(() => {
    const root = document.querySelector('tandem-chat').shadowRoot;
    const panel = root.querySelector('.panel').getBoundingClientRect();
    const user = getComputedStyle(root.querySelector('.msg.user'));
    return {
      theme: root.querySelector('.tw').dataset.theme,
      left: panel.left,
      userBg: user.backgroundColor,
      userFg: user.color,
      local: Object.keys(localStorage).length,
      session: Object.keys(sessionStorage).filter((k) => k.startsWith('tandem-widget:')).length,
    };
  });
  assert.equal(info.theme, 'dark');
  assert.ok(info.left < 100, 'on the left');
  assert.equal(info.userBg, 'rgb(181, 48, 92)');
  assert.equal(info.userFg, 'rgb(255, 255, 255)', 'readable text on the accent colour');
  assert.equal(info.local, 0);
  assert.equal(info.session, 1);
  assert.deepEqual(await cspViolations(page), []);
  assert.deepEqual(problems, []);
  await context.close();
});

// WCAG contrast of the widget's text against what is behind it.
async function contrasts(page) {
  return page.evaluate(() => {
    const root = document.querySelector('tandem-chat').shadowRoot;
    const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bg = (e) => {
      for (let n = e; n; n = n.parentElement || (n.getRootNode() && n.getRootNode().host)) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const out = {};
    for (const sel of ['h2', '.status-text', '.note', '.msg.bot', '.msg.user', '.options button', '.send', '.text-btn', 'textarea']) {
      const e = root.querySelector(sel);
      if (!e) continue;
      const a = lum(parse(getComputedStyle(e).color).slice(0, 3));
      const b = lum(bg(e));
      out[sel] = Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100;
    }
    return out;
  });
}

// TANDEM_UPDATE_SCREENSHOTS=1 also refreshes the README's pictures, taken on the shipped
// content (the checks below run on the fixture content otherwise, as every test here).
const updateDocs = process.env.TANDEM_UPDATE_SCREENSHOTS === '1';

for (const scheme of ['light', 'dark']) {
  test(`screenshot and contrast, ${scheme} theme`, async () => {
    const server = updateDocs ? await startTandem({}, { shipped: true }) : tandem;
    const { context, page } = await newPage(browser, { colorScheme: scheme, deviceScaleFactor: 1 });
    try {
      await page.goto(server.url + '/');
      const w = W(page);
      await w.launcher.click();
      await type(page, 'hi');
      if (updateDocs) {
        await waitForText(page, "What's on your mind today?");
        await type(page, 'I feel like my partner is smothering me');
        await w.option('A partner').waitFor();
      } else {
        await w.option('Feeling far apart').waitFor();
      }
      await page.locator('tandem-chat textarea').blur();
      const ratios = await contrasts(page);
      for (const [sel, r] of Object.entries(ratios)) assert.ok(r >= 4.5, `${sel} contrast ${r} < 4.5 (${scheme})`);
      assert.ok(Object.keys(ratios).length >= 8);
      const file = path.join(ensureDir(outDir), `widget-${scheme}.png`);
      await page.screenshot({ path: file });
      if (updateDocs) {
        const docs = path.join(ensureDir(path.join(sourceDir, 'docs', 'img')), `widget-${scheme}.png`);
        fs.copyFileSync(file, docs);
      }
    } finally {
      await context.close();
      if (server !== tandem) await server.stop();
    }
  });
}
