// Small DOM and formatting helpers shared by every page.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** el('button', {class: 'x', onclick: fn, dataset: {a: 1}}, 'text', child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Seconds of hearing time as H:MM:SS or M:SS. */
export function clock(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

// One court time zone for every page (the server's `time_zone`, default Asia/Shanghai): what
// the picture's clock and the record say, whatever the browser's own zone.
let courtZone = 'Asia/Shanghai';
export function setCourtZone(zone) {
  if (typeof zone === 'string' && zone) courtZone = zone;
}
export function getCourtZone() { return courtZone; }
if (typeof fetch === 'function') {
  fetch('/healthz', { cache: 'no-store' }).then((r) => r.json()).then((d) => setCourtZone(d && d.time_zone)).catch(() => {});
}

export function wallTime(unixSeconds, withDate = false) {
  if (!unixSeconds) return '';
  const o = {};
  try {
    const format = new Intl.DateTimeFormat('en-CA', {
      timeZone: courtZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    });
    for (const part of format.formatToParts(new Date(unixSeconds * 1000))) o[part.type] = part.value;
  } catch {
    return new Date(unixSeconds * 1000).toISOString().slice(withDate ? 0 : 11, 16).replace('T', ' ');
  }
  const time = `${o.hour}:${o.minute}`;
  return withDate ? `${o.year}-${o.month}-${o.day} ${time}` : time;
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

let toastBox = null;
/** A short message at the bottom of the screen; kind: info | ok | error. */
export function toast(message, kind = 'info', ms = 4000) {
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const item = el('div', { class: `toast toast-${kind}` }, message);
  toastBox.append(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Older browsers and plain-http pages: a hidden textarea and execCommand.
    const area = el('textarea', { class: 'offscreen', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    area.remove();
    return ok;
  }
}

/** Show exactly one of the elements matching `selector` (by id); sets body[data-screen]. */
export function showScreen(id, selector = '.screen') {
  for (const node of $$(selector)) node.hidden = node.id !== id;
  document.body.dataset.screen = id;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when the keyboard event comes from a place where typing happens. */
export function typingIn(event) {
  const t = event.target;
  if (!t || !(t instanceof HTMLElement)) return false;
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName);
}

export function confirmDialog(message, okLabel, cancelLabel) {
  return new Promise((resolve) => {
    const dialog = el('dialog', { class: 'confirm' },
      el('p', {}, message),
      el('div', { class: 'row end' },
        el('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => dialog.close('cancel') }, cancelLabel),
        el('button', { type: 'button', class: 'btn btn-danger', value: 'ok', onclick: () => dialog.close('ok') }, okLabel)));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'ok'); });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector('.btn-danger').focus();
  });
}
