/*
 * tandem chat widget. One tag adds it to a page:
 *
 *   <script src="https://chat.example.org/widget.js" defer></script>
 *
 * It draws a launcher button and a chat panel inside a Shadow DOM, so the page's CSS cannot
 * reach it and it sets no global styles. No framework, no dependencies, no eval, no inline
 * script or style: it runs under a strict Content-Security-Policy that allows this script's
 * origin in script-src and connect-src. Options come from data-* attributes on the tag
 * (see docs/widget.md); the wire protocol is in adapters/widget/widget_protocol.hpp.
 */
(function () {
  'use strict';

  const script = document.currentScript;
  if (!script || script.dataset.tandemLoaded) return;
  script.dataset.tandemLoaded = 'true';
  const ds = script.dataset;

  // ---- configuration ------------------------------------------------------------------

  const base = new URL(ds.server || '.', script.src || document.baseURI);
  const serverOrigin = base.origin;
  const baseUrl = base.href.endsWith('/') ? base.href : base.href + '/';

  const TEXT_DEFAULTS = {
    launcher: 'Chat with tandem',
    launcherUnread: 'Chat with tandem (new message)',
    title: 'tandem',
    subtitle: 'A quiet place to think things through',
    note:
      "tandem is a program that helps you reflect. It isn't therapy or a crisis service. " +
      "If you're in danger, call your local emergency number.",
    welcome: "Hi. Whenever you're ready, say hello or tell me what's on your mind.",
    placeholder: 'Write a message',
    inputLabel: 'Your message',
    send: 'Send',
    close: 'Close chat',
    forget: 'Forget me',
    forgetConfirm: 'Delete this chat and everything tandem keeps about it?',
    forgetYes: 'Yes, delete it',
    forgetNo: 'Keep it',
    forgotten: 'Done. This chat is deleted. You can start again any time.',
    typing: 'tandem is writing…',
    choices: 'Choices',
    you: 'You',
    bot: 'tandem',
    connecting: 'Connecting…',
    online: 'Connected',
    onlineSlow: 'Connected (slower mode)',
    retrying: 'Connection lost. Trying again in {s} s.',
    retryNow: 'Try now',
    offline: "You're offline. Messages will wait until you're back.",
    waiting: 'Waiting to send…',
    failed: 'Not sent',
    ended: 'Your earlier chat has ended, so this is a fresh start.',
    gap: 'Some earlier messages are no longer available.',
    slowDown: "That's a lot at once. Give it a moment, then try again.",
    tooLong: 'That message is a bit long for me. Could you shorten it?',
    busy: "tandem is very busy right now. Please try again in a little while.",
    problem: 'Something went wrong. Please try again.',
  };
  // data-text-forget-yes="…" overrides TEXT_DEFAULTS.forgetYes, and so on.
  const T = {};
  for (const key of Object.keys(TEXT_DEFAULTS)) {
    const attr = 'text' + key.charAt(0).toUpperCase() + key.slice(1);
    T[key] = ds[attr] !== undefined && ds[attr] !== '' ? ds[attr] : TEXT_DEFAULTS[key];
  }
  if (ds.title) T.title = ds.title;

  const theme = ['light', 'dark', 'auto'].includes(ds.theme) ? ds.theme : 'auto';
  const position = ds.position === 'left' ? 'left' : 'right';
  const transportPref = ['websocket', 'http'].includes(ds.transport) ? ds.transport : 'auto';
  const language = (ds.lang || document.documentElement.lang || '').slice(0, 35);
  const storageKind = ds.storage === 'session' ? 'session' : 'local';
  const accent = ds.accent && window.CSS && CSS.supports('color', ds.accent) ? ds.accent : '';

  // ---- storage: only the session id and whether the panel was open --------------------

  const storeKey = 'tandem-widget:' + serverOrigin;
  const memoryStore = {};
  function storage() {
    try {
      return storageKind === 'session' ? window.sessionStorage : window.localStorage;
    } catch (e) {
      return null;
    }
  }
  function loadState() {
    try {
      const raw = storage() ? storage().getItem(storeKey) : memoryStore[storeKey];
      const v = raw ? JSON.parse(raw) : {};
      return v && typeof v === 'object' ? v : {};
    } catch (e) {
      return {};
    }
  }
  function saveState(patch) {
    const v = Object.assign(loadState(), patch);
    for (const k of Object.keys(v)) if (v[k] === null || v[k] === undefined) delete v[k];
    const raw = JSON.stringify(v);
    try {
      if (storage()) storage().setItem(storeKey, raw);
      else memoryStore[storeKey] = raw;
    } catch (e) {
      memoryStore[storeKey] = raw;
    }
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // ---- styles (a constructed stylesheet: no <style> element, nothing for CSP to block) --

  const CSS_TEXT = `
:host { all: initial !important; display: block !important; }
.tw {
  --accent: #2f5d8a; --on-accent: #ffffff;
  --bg: #ffffff; --fg: #1f2328; --muted: #57606a; --line: #d0d7de;
  --bot-bg: #f1f3f5; --bot-fg: #1f2328; --note-bg: #fff8e6; --note-fg: #4d3800;
  --danger: #a40e26; --focus: #0b57d0; --shadow: 0 8px 28px rgba(0, 0, 0, .22);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--fg);
}
.tw[data-theme="dark"] {
  --accent: #8ab4f8; --on-accent: #0b1a2e;
  --bg: #16181d; --fg: #e8eaed; --muted: #a8b0ba; --line: #3a3f47;
  --bot-bg: #262a31; --bot-fg: #e8eaed; --note-bg: #2f2a1c; --note-fg: #f3e2b3;
  --danger: #ff9aa8; --focus: #8ab4f8; --shadow: 0 8px 28px rgba(0, 0, 0, .6);
}
@media (prefers-color-scheme: dark) {
  .tw[data-theme="auto"] {
    --accent: #8ab4f8; --on-accent: #0b1a2e;
    --bg: #16181d; --fg: #e8eaed; --muted: #a8b0ba; --line: #3a3f47;
    --bot-bg: #262a31; --bot-fg: #e8eaed; --note-bg: #2f2a1c; --note-fg: #f3e2b3;
    --danger: #ff9aa8; --focus: #8ab4f8; --shadow: 0 8px 28px rgba(0, 0, 0, .6);
  }
}
*, *::before, *::after { box-sizing: border-box; }
button, textarea { font: inherit; color: inherit; }
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.launcher {
  position: fixed; bottom: 20px; right: 20px; z-index: 2147483000;
  display: flex; align-items: center; gap: 8px;
  min-height: 52px; padding: 0 20px 0 16px; border: 0; border-radius: 26px;
  background: var(--accent); color: var(--on-accent); box-shadow: var(--shadow);
  font-weight: 600; cursor: pointer;
}
.tw.left .launcher { right: auto; left: 20px; }
.launcher[hidden] { display: none; }
.launcher svg { width: 24px; height: 24px; flex: none; }
.launcher .dot {
  display: none; width: 10px; height: 10px; border-radius: 50%;
  background: var(--on-accent); margin-left: 2px;
}
.launcher.unread .dot { display: inline-block; }
.panel {
  position: fixed; bottom: 20px; right: 20px; z-index: 2147483001;
  width: min(380px, calc(100vw - 24px)); height: min(600px, calc(100vh - 40px));
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--bg); color: var(--fg); border: 1px solid var(--line);
  border-radius: 16px; box-shadow: var(--shadow);
  animation: tw-in .18s ease-out;
}
.tw.left .panel { right: auto; left: 20px; }
.panel[hidden] { display: none; }
@keyframes tw-in { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
header {
  display: flex; align-items: center; gap: 8px; padding: 12px 12px 10px 16px;
  border-bottom: 1px solid var(--line);
}
.heading { flex: 1; min-width: 0; }
h2 { margin: 0; font-size: 17px; line-height: 1.2; font-weight: 700; }
.status { margin: 2px 0 0; font-size: 13px; color: var(--muted); display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.status .led { width: 8px; height: 8px; border-radius: 50%; background: #8c959f; flex: none; }
.status[data-state="online"] .led { background: #1a7f37; }
.tw[data-theme="dark"] .status[data-state="online"] .led { background: #57d163; }
.status[data-state="retrying"] .led, .status[data-state="offline"] .led { background: #bc4c00; }
.linkish {
  border: 0; background: none; padding: 2px 4px; margin: -2px 0; border-radius: 6px;
  color: var(--accent); text-decoration: underline; cursor: pointer; font-size: 13px;
}
.tw[data-theme="light"] .linkish, .tw[data-theme="auto"] .linkish { color: var(--accent); }
.icon-btn, .text-btn {
  border: 1px solid var(--line); background: transparent; border-radius: 10px;
  min-height: 36px; cursor: pointer;
}
.icon-btn { width: 36px; display: grid; place-items: center; padding: 0; }
.icon-btn svg { width: 18px; height: 18px; }
.text-btn { padding: 0 10px; font-size: 13px; font-weight: 600; }
.note {
  margin: 0; padding: 8px 16px; font-size: 13px;
  background: var(--note-bg); color: var(--note-fg); border-bottom: 1px solid var(--line);
}
.confirm {
  padding: 10px 16px; border-bottom: 1px solid var(--line); display: grid; gap: 8px;
}
.confirm[hidden] { display: none; }
.confirm p { margin: 0; font-weight: 600; }
.confirm .row { display: flex; gap: 8px; flex-wrap: wrap; }
.danger { background: var(--danger); color: var(--bg); border-color: var(--danger); }
.log {
  flex: 1; overflow-y: auto; padding: 14px 12px; display: flex; flex-direction: column; gap: 8px;
  overscroll-behavior: contain;
}
.msg { max-width: 85%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.bot { align-self: flex-start; background: var(--bot-bg); color: var(--bot-fg); border-bottom-left-radius: 4px; }
.msg.user { align-self: flex-end; background: var(--accent); color: var(--on-accent); border-bottom-right-radius: 4px; }
.msg.user.pending { opacity: .75; }
.msg .meta { display: block; font-size: 12px; margin-top: 2px; opacity: .9; }
.msg.user.failed { outline: 2px solid var(--danger); }
.system { align-self: center; max-width: 92%; text-align: center; font-size: 13px; color: var(--muted); margin: 4px 0; }
.who { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.options { display: flex; flex-wrap: wrap; gap: 8px; align-self: flex-start; max-width: 100%; margin: 2px 0 4px; }
.options button {
  border: 1.5px solid var(--accent); background: var(--bg); color: var(--fg);
  border-radius: 18px; min-height: 36px; padding: 6px 14px; cursor: pointer; text-align: left;
}
.options button:hover { background: var(--bot-bg); }
.typing { min-height: 22px; padding: 0 16px; font-size: 13px; color: var(--muted); }
.typing .dots { display: inline-flex; gap: 3px; margin-right: 6px; vertical-align: middle; }
.typing .dots i { width: 5px; height: 5px; border-radius: 50%; background: var(--muted); animation: tw-blink 1.2s infinite; }
.typing .dots i:nth-child(2) { animation-delay: .2s; }
.typing .dots i:nth-child(3) { animation-delay: .4s; }
@keyframes tw-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
form { display: flex; gap: 8px; padding: 10px 12px 12px; border-top: 1px solid var(--line); align-items: flex-end; }
textarea {
  flex: 1; resize: none; min-height: 42px; max-height: 120px; padding: 10px 12px;
  border: 1.5px solid var(--line); border-radius: 12px; background: var(--bg);
}
textarea::placeholder { color: var(--muted); opacity: 1; }
.send {
  min-height: 42px; padding: 0 16px; border: 0; border-radius: 12px;
  background: var(--accent); color: var(--on-accent); font-weight: 600; cursor: pointer;
}
@media (max-width: 480px) {
  .panel { right: 0; left: 0; bottom: 0; width: 100vw; height: 100vh; border-radius: 0; }
  .tw.left .panel { left: 0; }
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation: none !important; transition: none !important; scroll-behavior: auto !important; }
}
@media (forced-colors: active) {
  .msg, .launcher, .send, .options button { border: 1px solid CanvasText; }
}
`;

  // ---- DOM helpers --------------------------------------------------------------------

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children || []) if (c) e.appendChild(c);
    return e;
  }
  const SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(paths) {
    const s = document.createElementNS(SVG_NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    for (const d of paths) {
      const p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', d);
      p.setAttribute('fill', 'none');
      p.setAttribute('stroke', 'currentColor');
      p.setAttribute('stroke-width', '2');
      p.setAttribute('stroke-linecap', 'round');
      p.setAttribute('stroke-linejoin', 'round');
      s.appendChild(p);
    }
    return s;
  }
  const ICON_CHAT = ['M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z'];
  const ICON_CLOSE = ['M6 6l12 12', 'M18 6L6 18'];

  function fmt(text, vars) {
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }

  // Readable text on a custom accent colour (WCAG relative luminance).
  function textOn(color) {
    const probe = document.createElement('span');
    probe.style.color = color; // CSSOM, not a style attribute: allowed under CSP
    root.appendChild(probe);
    const rgb = getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || ['0', '0', '0'];
    probe.remove();
    const lin = rgb.slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    const L = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    return (L + 0.05) / 0.05 > 1.05 / (L + 0.05) ? '#000000' : '#ffffff';
  }

  // ---- build the widget ---------------------------------------------------------------

  const host = document.createElement('tandem-chat');
  const root = host.attachShadow({ mode: 'open' });
  if ('adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS_TEXT);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el('style', { text: CSS_TEXT })); // older browsers only
  }

  const uid = 'tw' + Math.random().toString(36).slice(2, 8);
  const launcher = el('button', {
    class: 'launcher',
    type: 'button',
    'aria-expanded': 'false',
    'aria-controls': uid + '-panel',
    'aria-label': T.launcher,
  });
  launcher.append(icon(ICON_CHAT), el('span', { text: T.launcher, 'aria-hidden': 'true' }), el('span', { class: 'dot', 'aria-hidden': 'true' }));

  const statusText = el('span', { class: 'status-text', text: '' });
  const retryBtn = el('button', { class: 'linkish', type: 'button', text: T.retryNow, hidden: true });
  const status = el('p', { class: 'status', role: 'status', 'data-state': 'idle' }, [
    el('span', { class: 'led', 'aria-hidden': 'true' }),
    statusText,
    retryBtn,
  ]);
  const forgetBtn = el('button', { class: 'text-btn', type: 'button', text: T.forget });
  const closeBtn = el('button', { class: 'icon-btn', type: 'button', 'aria-label': T.close });
  closeBtn.appendChild(icon(ICON_CLOSE));
  const titleId = uid + '-title';
  const header = el('header', {}, [
    el('div', { class: 'heading' }, [el('h2', { id: titleId, text: T.title }), status]),
    forgetBtn,
    closeBtn,
  ]);
  const note = el('p', { class: 'note', id: uid + '-note', text: T.note });
  const confirmYes = el('button', { class: 'text-btn danger', type: 'button', text: T.forgetYes });
  const confirmNo = el('button', { class: 'text-btn', type: 'button', text: T.forgetNo });
  const confirmBox = el('div', { class: 'confirm', role: 'group', 'aria-labelledby': uid + '-confirm', hidden: true }, [
    el('p', { id: uid + '-confirm', text: T.forgetConfirm }),
    el('div', { class: 'row' }, [confirmYes, confirmNo]),
  ]);
  const log = el('div', {
    class: 'log',
    role: 'log',
    'aria-labelledby': titleId,
    'aria-live': 'polite',
    'aria-relevant': 'additions',
    tabindex: '0',
  });
  const typing = el('div', { class: 'typing', role: 'status', 'aria-live': 'polite' });
  const inputId = uid + '-input';
  const input = el('textarea', {
    id: inputId,
    rows: '1',
    placeholder: T.placeholder,
    autocomplete: 'off',
    maxlength: '2000',
    'aria-describedby': uid + '-note',
  });
  const sendBtn = el('button', { class: 'send', type: 'submit', text: T.send });
  const form = el('form', { novalidate: true }, [
    el('label', { class: 'sr-only', for: inputId, text: T.inputLabel }),
    input,
    sendBtn,
  ]);
  const panel = el('section', {
    class: 'panel',
    id: uid + '-panel',
    role: 'dialog',
    'aria-modal': 'false',
    'aria-labelledby': titleId,
    hidden: true,
  }, [header, note, confirmBox, log, typing, form]);
  const frame = el('div', { class: 'tw' + (position === 'left' ? ' left' : ''), 'data-theme': theme }, [launcher, panel]);
  if (accent) {
    frame.style.setProperty('--accent', accent);
    frame.style.setProperty('--on-accent', textOn(accent));
  }
  root.appendChild(frame);

  // ---- conversation view --------------------------------------------------------------

  let lastSeq = 0; // highest conversation seq shown
  const early = new Map(); // seq -> frame that arrived before its predecessors
  const pending = new Map(); // client_msg_id -> {frame, bubble}
  let optionsGroup = null;
  let welcomeShown = false;

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }
  function firstPendingBubble() {
    for (const p of pending.values()) if (p.bubble && p.bubble.isConnected) return p.bubble;
    return null;
  }
  // Conversation messages go before bubbles still waiting for the server.
  function place(node) {
    const before = firstPendingBubble();
    if (before) log.insertBefore(node, before);
    else log.appendChild(node);
    scrollDown();
  }
  function dropOptions() {
    if (optionsGroup) {
      const hadFocus = root.activeElement && optionsGroup.contains(root.activeElement);
      optionsGroup.remove();
      optionsGroup = null;
      if (hadFocus) input.focus();
    }
  }
  function systemNote(text) {
    const n = el('p', { class: 'system', text });
    place(n);
    return n;
  }
  function showWelcome() {
    if (welcomeShown || log.querySelector('.msg')) return;
    welcomeShown = true;
    const b = el('div', { class: 'msg bot welcome' }, [el('span', { class: 'who', text: T.bot + ': ' })]);
    b.appendChild(document.createTextNode(T.welcome));
    place(b);
  }
  function clearLog() {
    dropOptions();
    for (const p of pending.values()) if (p.bubble) p.bubble.remove();
    log.textContent = '';
    for (const p of pending.values()) if (p.bubble) log.appendChild(p.bubble);
    lastSeq = 0;
    early.clear();
    welcomeShown = false;
  }
  function userBubble(text) {
    const b = el('div', { class: 'msg user' }, [el('span', { class: 'who', text: T.you + ': ' })]);
    b.appendChild(document.createTextNode(text));
    return b;
  }
  function setBubbleMeta(b, text) {
    let m = b.querySelector('.meta');
    if (!text) {
      if (m) m.remove();
      return;
    }
    if (!m) {
      m = el('span', { class: 'meta' });
      b.appendChild(m);
    }
    m.textContent = text;
  }

  function renderUser(f) {
    dropOptions();
    const p = pending.get(f.client_msg_id);
    if (p && p.bubble) {
      pending.delete(f.client_msg_id);
      p.bubble.classList.remove('pending', 'failed');
      setBubbleMeta(p.bubble, '');
      p.bubble.dataset.seq = f.seq;
      place(p.bubble);
      return;
    }
    pending.delete(f.client_msg_id);
    const b = userBubble(f.text);
    b.dataset.seq = f.seq;
    place(b);
  }

  function renderBot(f) {
    dropOptions();
    const texts = Array.isArray(f.texts) ? f.texts : [];
    texts.forEach((t, i) => {
      const b = el('div', { class: 'msg bot' }, [el('span', { class: 'who', text: T.bot + ': ' })]);
      b.appendChild(document.createTextNode(String(t)));
      if (i === 0) b.dataset.seq = f.seq;
      place(b);
    });
    const opts = Array.isArray(f.options) ? f.options : [];
    if (opts.length) {
      const g = el('div', { class: 'options', role: 'group', 'aria-label': T.choices });
      for (const o of opts) {
        const btn = el('button', { type: 'button', text: String(o.label) });
        btn.addEventListener('click', () => choose(o));
        g.appendChild(btn);
      }
      g.addEventListener('keydown', onOptionsKey);
      optionsGroup = g;
      place(g);
    }
    if (panel.hidden) {
      launcher.classList.add('unread');
      launcher.setAttribute('aria-label', T.launcherUnread);
    }
  }

  function onOptionsKey(e) {
    const buttons = Array.from(e.currentTarget.querySelectorAll('button'));
    const i = buttons.indexOf(root.activeElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % buttons.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i - 1 + buttons.length) % buttons.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = buttons.length - 1;
    if (j >= 0) {
      e.preventDefault();
      buttons[j].focus();
    }
  }

  // Conversation frames are shown strictly in seq order, each exactly once.
  function conversationFrame(f) {
    if (typeof f.seq !== 'number' || f.seq <= lastSeq) return;
    early.set(f.seq, f);
    while (early.has(lastSeq + 1)) {
      const next = early.get(lastSeq + 1);
      early.delete(lastSeq + 1);
      lastSeq = next.seq;
      if (next.type === 'user') renderUser(next);
      else renderBot(next);
    }
  }

  // ---- sending ------------------------------------------------------------------------

  let sessionId = null;
  let starting = false;

  function queue(frame, label) {
    const bubble = userBubble(label);
    bubble.classList.add('pending');
    log.appendChild(bubble);
    scrollDown();
    pending.set(frame.client_msg_id, { frame, bubble });
    flush();
  }
  function markWaiting() {
    for (const p of pending.values()) if (p.bubble && !p.bubble.classList.contains('failed')) setBubbleMeta(p.bubble, T.waiting);
  }
  function flush() {
    if (!conn.ready()) {
      markWaiting();
      connect();
      return;
    }
    if (!sessionId) {
      if (!starting) {
        starting = true;
        conn.send({ type: 'start', language: language || undefined });
      }
      return;
    }
    for (const p of pending.values()) if (!p.failed) conn.send(p.frame);
  }
  function fail(id, why) {
    const p = pending.get(id);
    if (!p) {
      systemNote(why);
      return;
    }
    pending.delete(id);
    p.bubble.classList.remove('pending');
    p.bubble.classList.add('failed');
    setBubbleMeta(p.bubble, T.failed + ' · ' + why);
  }

  function sendText() {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    autosize();
    queue({ type: 'message', client_msg_id: newId(), text }, text);
  }
  function choose(option) {
    dropOptions();
    input.focus();
    queue({ type: 'message', client_msg_id: newId(), option_id: String(option.id) }, String(option.label));
  }

  // ---- frames from the server ---------------------------------------------------------

  function onFrame(f) {
    if (!f || typeof f !== 'object') return;
    switch (f.type) {
      case 'ready':
        starting = false;
        sessionId = f.session_id;
        saveState({ sid: sessionId });
        if (f.reset) clearLog();
        if (f.gap && lastSeq + 1 < f.first_seq) {
          systemNote(T.gap);
          lastSeq = f.first_seq - 1;
        }
        flush();
        break;
      case 'user':
      case 'bot':
        conversationFrame(f);
        break;
      case 'ack':
        if (pending.has(f.client_msg_id) && f.duplicate) {
          // Already recorded earlier; its echo comes (or came) with the replay.
          const p = pending.get(f.client_msg_id);
          setBubbleMeta(p.bubble, '');
        }
        break;
      case 'typing':
        showTyping(!!f.on);
        break;
      case 'forgotten': {
        sessionId = null;
        starting = false;
        saveState({ sid: null });
        pending.clear();
        clearLog();
        showTyping(false);
        const texts = Array.isArray(f.texts) && f.texts.length ? f.texts : [T.forgotten];
        for (const t of texts) systemNote(String(t));
        break;
      }
      case 'error':
        onError(f);
        break;
      default:
        break; // pong and frames of later versions
    }
  }

  function onError(f) {
    switch (f.code) {
      case 'unknown_session':
      case 'no_session': {
        const hadSession = !!sessionId;
        sessionId = null;
        starting = false;
        saveState({ sid: null });
        if (hadSession) {
          // The server no longer knows the session (expired or restarted): what is on
          // screen stays, and a new session starts from seq 1.
          dropOptions();
          lastSeq = 0;
          early.clear();
          systemNote(T.ended);
        }
        if (f.client_msg_id && pending.has(f.client_msg_id)) flush();
        else if (pending.size) flush();
        break;
      }
      case 'slow_down':
      case 'too_many_requests':
        fail(f.client_msg_id, T.slowDown);
        break;
      case 'too_long':
        fail(f.client_msg_id, T.tooLong);
        break;
      case 'busy':
        starting = false;
        for (const id of Array.from(pending.keys())) fail(id, T.busy);
        break;
      default:
        if (f.client_msg_id) fail(f.client_msg_id, T.problem);
        break;
    }
  }

  function showTyping(on) {
    typing.textContent = '';
    if (!on) return;
    const dots = el('span', { class: 'dots', 'aria-hidden': 'true' }, [el('i'), el('i'), el('i')]);
    typing.append(dots, document.createTextNode(T.typing));
  }

  // ---- transports ---------------------------------------------------------------------

  // Both transports: connect(onOpen, onFrame, onClose), send(frame), close(), ready().
  function socketTransport() {
    let ws = null;
    let open = false;
    const url = new URL('widget/socket', baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return {
      kind: 'websocket',
      connect(onOpen, onData, onClose) {
        open = false;
        try {
          ws = new WebSocket(url.href);
        } catch (e) {
          setTimeout(() => onClose(false), 0);
          return;
        }
        const me = ws;
        ws.onopen = () => {
          if (me !== ws) return;
          open = true;
          onOpen();
        };
        ws.onmessage = (ev) => {
          if (me !== ws) return;
          let f;
          try {
            f = JSON.parse(ev.data);
          } catch (e) {
            return;
          }
          onData(f);
        };
        ws.onclose = () => {
          if (me !== ws) return;
          const was = open;
          open = false;
          ws = null;
          onClose(was);
        };
      },
      send(f) {
        if (ws && open) ws.send(JSON.stringify(Object.assign({}, f)));
      },
      close() {
        if (ws) {
          const w = ws;
          ws = null;
          open = false;
          w.close(1000);
        }
      },
      ready() {
        return open;
      },
    };
  }

  // The HTTP fallback: each frame is a POST answered with frames; a long-poll brings the
  // rest. Every request names the session and the last seq shown.
  function httpTransport() {
    let alive = false;
    let generation = 0;
    let polling = false;
    let handlers = null;
    const api = new URL('widget/api', baseUrl).href;
    const pollUrl = new URL('widget/poll', baseUrl).href;
    async function post(url, body, signal) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        signal,
      });
      if (res.status === 404 || res.status === 400 || res.status === 413 || res.status === 429 || res.status === 503) {
        const j = await res.json().catch(() => ({}));
        if (j && Array.isArray(j.frames)) return j.frames;
        return [{ type: 'error', code: j.error || 'problem', client_msg_id: body.client_msg_id }];
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const j = await res.json();
      return Array.isArray(j.frames) ? j.frames : [];
    }
    function lost(gen) {
      if (gen !== generation || !alive) return;
      alive = false;
      handlers.onClose(true);
    }
    async function pollLoop(gen) {
      if (polling) return;
      polling = true;
      try {
        while (alive && gen === generation && sessionId) {
          const frames = await post(pollUrl, { type: 'poll', session_id: sessionId, last_seq: lastSeq });
          if (gen !== generation) return;
          frames.forEach(handlers.onData);
        }
      } catch (e) {
        lost(gen);
      } finally {
        polling = false;
      }
    }
    return {
      kind: 'http',
      connect(onOpen, onData, onClose) {
        handlers = { onData, onClose };
        const gen = ++generation;
        // A ping proves the server is reachable before we call ourselves connected.
        post(api, { type: 'ping' })
          .then(() => {
            if (gen !== generation) return;
            alive = true;
            onOpen();
          })
          .catch(() => {
            if (gen === generation) onClose(false);
          });
      },
      send(f) {
        if (!alive) return;
        const gen = generation;
        const body = Object.assign({}, f);
        if (sessionId && f.type !== 'start') {
          body.session_id = sessionId;
          if (body.last_seq === undefined) body.last_seq = lastSeq;
        }
        post(api, body)
          .then((frames) => {
            if (gen !== generation) return;
            frames.forEach(handlers.onData);
            if (sessionId) pollLoop(gen);
          })
          .catch(() => lost(gen));
      },
      close() {
        generation++;
        alive = false;
      },
      ready() {
        return alive;
      },
    };
  }

  // ---- connection manager: backoff with jitter, visible state, WebSocket -> HTTP ------

  const conn = {
    transport: null,
    attempt: 0,
    timer: null,
    everOpened: false,
    wsFailures: 0,
    wanted: false,
    ready() {
      return !!(this.transport && this.transport.ready());
    },
    send(f) {
      if (this.transport) this.transport.send(f);
    },
  };

  function setStatus(state, text, showRetry) {
    status.dataset.state = state;
    statusText.textContent = text;
    retryBtn.hidden = !showRetry;
  }

  function httpReachable() {
    return fetch(new URL('widget/api', baseUrl).href, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"type":"ping"}',
      credentials: 'omit',
      cache: 'no-store',
    }).then(
      (r) => r.ok,
      () => false,
    );
  }

  function pickTransport() {
    if (transportPref === 'http') return httpTransport();
    if (transportPref === 'websocket') return socketTransport();
    if (conn.wsFailures >= 2 || !('WebSocket' in window)) return httpTransport();
    return socketTransport();
  }

  function connect() {
    conn.wanted = true;
    if (conn.transport || conn.timer) return;
    if (navigator.onLine === false) {
      setStatus('offline', T.offline, false);
      return;
    }
    const t = pickTransport();
    conn.transport = t;
    setStatus('connecting', T.connecting, false);
    t.connect(
      () => {
        conn.attempt = 0;
        conn.everOpened = true;
        if (t.kind === 'websocket') conn.wsFailures = 0;
        setStatus('online', t.kind === 'http' ? T.onlineSlow : T.online, false);
        starting = false;
        if (sessionId) t.send({ type: 'resume', session_id: sessionId, last_seq: lastSeq });
        else flush();
      },
      onFrame,
      (wasOpen) => {
        if (conn.transport !== t) return;
        conn.transport = null;
        starting = false;
        showTyping(false);
        if (!wasOpen && t.kind === 'websocket' && transportPref === 'auto') {
          // Blocked, or is the server just away? Only a server that answers plain HTTP
          // while its WebSocket never opens counts as blocked.
          httpReachable().then((ok) => {
            conn.wsFailures = ok ? conn.wsFailures + 1 : 0;
            if (conn.wsFailures >= 2) conn.attempt = 0;
            scheduleReconnect();
          });
          return;
        }
        scheduleReconnect();
      },
    );
  }

  function scheduleReconnect() {
    if (!conn.wanted) return;
    markWaiting();
    if (navigator.onLine === false) {
      setStatus('offline', T.offline, false);
      return;
    }
    // Exponential backoff with jitter: 0.5-1x of min(30 s, 0.5 s * 2^attempt).
    const ceiling = Math.min(30000, 500 * Math.pow(2, conn.attempt));
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    conn.attempt++;
    // Said once, not counted down: the status is a live region.
    setStatus('retrying', fmt(T.retrying, { s: Math.max(1, Math.round(delay / 1000)) }), true);
    conn.timer = setTimeout(reconnectNow, delay);
  }

  function reconnectNow() {
    clearTimeout(conn.timer);
    conn.timer = null;
    connect();
  }

  retryBtn.addEventListener('click', () => {
    conn.attempt = 0;
    reconnectNow();
  });
  window.addEventListener('online', () => {
    if (conn.wanted && !conn.transport) {
      conn.attempt = 0;
      reconnectNow();
    }
  });
  window.addEventListener('offline', () => {
    if (!conn.transport) setStatus('offline', T.offline, false);
  });

  // ---- panel, keyboard, forget me -----------------------------------------------------

  function autosize() {
    input.style.height = 'auto'; // CSSOM: allowed under CSP
    input.style.height = Math.min(120, input.scrollHeight + 3) + 'px';
  }

  function openPanel(focusInput) {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute('aria-expanded', 'true');
    launcher.classList.remove('unread');
    launcher.setAttribute('aria-label', T.launcher);
    saveState({ open: true });
    showWelcome();
    connect();
    scrollDown();
    if (focusInput !== false) input.focus();
  }
  function closePanel() {
    hideConfirm(false);
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute('aria-expanded', 'false');
    saveState({ open: null });
    launcher.focus();
  }
  function showConfirm() {
    confirmBox.hidden = false;
    forgetBtn.setAttribute('aria-expanded', 'true');
    confirmNo.focus();
  }
  function hideConfirm(refocus) {
    if (confirmBox.hidden) return;
    confirmBox.hidden = true;
    forgetBtn.setAttribute('aria-expanded', 'false');
    if (refocus) forgetBtn.focus();
  }

  launcher.addEventListener('click', () => openPanel(true));
  closeBtn.addEventListener('click', closePanel);
  forgetBtn.setAttribute('aria-expanded', 'false');
  forgetBtn.addEventListener('click', () => (confirmBox.hidden ? showConfirm() : hideConfirm(true)));
  confirmNo.addEventListener('click', () => hideConfirm(true));
  confirmYes.addEventListener('click', () => {
    hideConfirm(false);
    if (sessionId && conn.ready()) {
      conn.send({ type: 'forget' });
    } else {
      // Nothing reached the server yet (or it is unreachable): forget locally now; a
      // session the server still holds expires on its own.
      onFrame({ type: 'forgotten' });
      if (sessionId) conn.send({ type: 'forget' });
    }
    input.focus();
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      if (!confirmBox.hidden) hideConfirm(true);
      else closePanel();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sendText();
    input.focus();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendText();
    }
  });
  input.addEventListener('input', autosize);

  // ---- start --------------------------------------------------------------------------

  function mount() {
    document.body.appendChild(host);
    const saved = loadState();
    if (saved.sid && typeof saved.sid === 'string') sessionId = saved.sid;
    if (saved.open || ds.open === 'true') openPanel(false);
    else if (sessionId) connect(); // bring back the conversation (and any check-in)
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
