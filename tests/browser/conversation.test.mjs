// A visitor on the demo page: a whole dialog by typing and by clicking options, a reload
// that brings the conversation back, "forget me", and the same done with the keyboard only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { W, cspViolations, launchBrowser, newPage, shownSeqs, startTandem, transcript, type, waitForText } from './harness.mjs';

let tandem;
let browser;

before(async () => {
  tandem = await startTandem({});
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (tandem) await tandem.stop();
});

const WHOLE_DIALOG = [
  'you: hi',
  'bot: NOTE: I am a program, not a therapist.',
  'bot: HELLO *.',
  'bot: MENU: what would you like to think about?',
  'you: Feeling far apart',
  'bot: DISTANT: it sounds like you miss being close.',
  'bot: Pick one.',
  'you: Talk about it',
  'bot: DISTANT DONE.',
];

async function holdWholeDialog(page) {
  const w = W(page);
  await w.launcher.click();
  await assert.doesNotReject(w.panel.waitFor({ state: 'visible' }));
  await type(page, 'hi');
  await w.option('Feeling far apart').click();
  await waitForText(page, 'Pick one.');
  await w.option('Talk about it').click();
  await waitForText(page, 'DISTANT DONE.');
}

test('a whole dialog by typing and by clicking options', async () => {
  const { context, page, problems } = await newPage(browser);
  await page.goto(tandem.url + '/');
  const w = W(page);
  assert.equal(await w.launcher.getAttribute('aria-expanded'), 'false');
  await holdWholeDialog(page);
  assert.deepEqual(await transcript(page), WHOLE_DIALOG);
  assert.equal(await w.launcher.getAttribute('aria-expanded'), 'true');
  // Options are real buttons, and spent ones are gone.
  assert.equal(await w.options.count(), 0);
  // Every message carries the next seq: none missing, none twice.
  assert.deepEqual(await shownSeqs(page), [1, 2, 3, 4, 5, 6]);
  assert.match(await w.status.textContent(), /Connected/);
  assert.equal(await w.typing.textContent(), '');
  const atBottom = await page.evaluate(() => {
    const log = document.querySelector('tandem-chat').shadowRoot.querySelector('[role="log"]');
    return log.scrollTop + log.clientHeight >= log.scrollHeight - 2;
  });
  assert.ok(atBottom, 'the newest message is in view');
  assert.deepEqual(await cspViolations(page), [], 'the demo page runs under a strict CSP');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a reload brings the conversation back, and it goes on', async () => {
  const { context, page, problems } = await newPage(browser);
  await page.goto(tandem.url + '/');
  await holdWholeDialog(page);
  await page.reload();
  const w = W(page);
  // The panel was open, so it opens again, with the whole conversation.
  await w.panel.waitFor({ state: 'visible' });
  await waitForText(page, 'DISTANT DONE.');
  assert.deepEqual(await transcript(page), WHOLE_DIALOG);
  assert.deepEqual(await shownSeqs(page), [1, 2, 3, 4, 5, 6]);
  await type(page, 'hi');
  await w.option('Wanting more space').waitFor();
  const t = await transcript(page);
  assert.equal(t.filter((l) => l === 'you: hi').length, 2);
  assert.deepEqual(await shownSeqs(page), [1, 2, 3, 4, 5, 6, 7, 8]);
  // Only the session id is stored, never the conversation.
  const stored = await page.evaluate(() => Object.values(localStorage).join(""));
  assert.doesNotMatch(stored, /DISTANT|Feeling far apart/);
  assert.match(stored, /"sid":"[A-Za-z0-9_-]{32}"/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('"forget me" deletes the conversation, here and on the server', async () => {
  const { context, page, problems } = await newPage(browser);
  await page.goto(tandem.url + '/');
  const w = W(page);
  await w.launcher.click();
  await type(page, 'hi');
  await w.option('Feeling far apart').waitFor();
  const sid = await page.evaluate(() => JSON.parse(Object.values(localStorage)[0]).sid);
  await w.forget.click();
  await page.locator('tandem-chat .confirm').waitFor({ state: 'visible' });
  await page.locator('tandem-chat .confirm .danger').click();
  await waitForText(page, 'This chat is deleted');
  assert.deepEqual(await transcript(page), ['note: Done. This chat is deleted. You can start again any time.']);
  const stored = await page.evaluate(() => Object.values(localStorage).join(''));
  assert.doesNotMatch(stored, /sid/);
  // The server no longer knows the session.
  const res = await fetch(tandem.url + '/widget/api', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'resume', session_id: sid, last_seq: 0 }),
  });
  assert.equal(res.status, 404);
  // A new conversation starts fresh.
  await type(page, 'hi');
  await w.option('Feeling far apart').waitFor();
  assert.deepEqual(await shownSeqs(page), [1, 2]);
  assert.deepEqual(problems, []);
  await context.close();
});

// The element focused inside the widget: "tag:name", plus " [ring]" when it shows a focus ring.
async function focused(page) {
  return page.evaluate(() => {
    const host = document.activeElement;
    if (!host || host.tagName !== 'TANDEM-CHAT') return 'outside:' + (host ? host.tagName : 'none');
    const e = host.shadowRoot.activeElement;
    if (!e) return 'nothing';
    const style = getComputedStyle(e);
    const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
    const name = e.getAttribute('aria-label') || e.textContent.trim();
    return e.tagName.toLowerCase() + ':' + name + (ring ? ' [ring]' : '');
  });
}

async function tabTo(page, want, { back = false, max = 15 } = {}) {
  for (let i = 0; i < max; i++) {
    const f = await focused(page);
    if (f.startsWith(want)) return f;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`focus never reached ${want}; it is on ${await focused(page)}`);
}

test('keyboard only: open, talk, choose, forget, close', async () => {
  const { context, page, problems } = await newPage(browser);
  await page.goto(tandem.url + '/');
  const w = W(page);
  // Tab from the top of the page reaches the launcher, which shows a focus ring.
  assert.match(await tabTo(page, 'button:Chat with tandem'), /\[ring\]/);
  await page.keyboard.press('Enter');
  await w.panel.waitFor({ state: 'visible' });
  assert.match(await focused(page), /^textarea/, 'opening moves focus to the message box');
  await page.keyboard.type('hi');
  await page.keyboard.press('Enter');
  await w.option('Feeling far apart').waitFor();
  // Back from the message box into the options, then arrow keys between them.
  await page.keyboard.press('Shift+Tab');
  assert.match(await focused(page), /^button:Nothing for now \[ring\]/);
  await page.keyboard.press('Home');
  assert.match(await focused(page), /^button:Wanting more space/);
  await page.keyboard.press('ArrowRight');
  assert.match(await focused(page), /^button:Feeling far apart/);
  await page.keyboard.press('Enter');
  await waitForText(page, 'Pick one.');
  assert.match(await focused(page), /^textarea/, 'after a choice, focus is back in the message box');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter'); // "Leave it", the last option
  await waitForText(page, 'you: Leave it');

  // Escape closes and returns focus to the launcher; Enter opens again.
  await page.keyboard.press('Escape');
  await w.panel.waitFor({ state: 'hidden' });
  assert.match(await focused(page), /^button:Chat with tandem/);
  await page.keyboard.press('Enter');
  await w.panel.waitFor({ state: 'visible' });

  // Forget me, by keyboard: the confirmation takes focus on the safe choice.
  await tabTo(page, 'button:Forget me', { back: true });
  await page.keyboard.press('Enter');
  assert.match(await focused(page), /^button:Keep it/);
  await page.keyboard.press('Escape'); // cancels the question, not the panel
  assert.match(await focused(page), /^button:Forget me/);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  assert.match(await focused(page), /^button:Yes, delete it/);
  await page.keyboard.press('Enter');
  await waitForText(page, 'This chat is deleted');
  assert.match(await focused(page), /^textarea/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('labels and roles a screen reader needs', async () => {
  const { context, page } = await newPage(browser, { reducedMotion: 'reduce' });
  await page.goto(tandem.url + '/');
  await W(page).launcher.click();
  const report = await page.evaluate(() => {
    const root = document.querySelector('tandem-chat').shadowRoot;
    const log = root.querySelector('[role="log"]');
    const title = root.getElementById(log.getAttribute('aria-labelledby'));
    const unnamed = Array.from(root.querySelectorAll('button')).filter(
      (b) => !(b.getAttribute('aria-label') || b.textContent.trim()),
    ).length;
    const input = root.querySelector('textarea');
    const label = root.querySelector(`label[for="${input.id}"]`);
    const panel = root.querySelector('.panel');
    return {
      logLive: log.getAttribute('aria-live'),
      title: title && title.textContent,
      unnamed,
      inputLabel: label && label.textContent,
      statusRole: root.querySelector('.status').getAttribute('role'),
      typingRole: root.querySelector('.typing').getAttribute('role'),
      dialog: panel.getAttribute('role'),
      animation: getComputedStyle(panel).animationName,
      globalStyles: document.styleSheets.length,
    };
  });
  assert.equal(report.logLive, 'polite');
  assert.equal(report.title, 'tandem');
  assert.equal(report.unnamed, 0);
  assert.equal(report.inputLabel, 'Your message');
  assert.equal(report.statusRole, 'status');
  assert.equal(report.typingRole, 'status');
  assert.equal(report.dialog, 'dialog');
  assert.equal(report.animation, 'none', 'reduced motion turns animation off');
  assert.equal(report.globalStyles, 1, 'only the demo page\'s own stylesheet: the widget adds none');
  await context.close();
});
