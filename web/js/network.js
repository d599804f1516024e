// Network quality: the server measures each participant's link from RTCP (round-trip time,
// jitter, loss each way, rates) and classifies it good / weak / bad
// (courtroom/network_quality.py). The console marks each person, with the figures on hover;
// a participant whose own link is weak or bad is told so on their page.

import { t } from './i18n.js';

function pct(x) { return x == null ? '–' : `${(x * 100).toFixed(1)}%`; }
function ms(x) { return x == null ? '–' : `${Math.round(x)} ms`; }
function kbps(x) { return x == null ? '–' : `${Math.round(x)} kbit/s`; }

/** The figures as one line of text (the mark's tooltip). */
export function figuresText(f) {
  return t('net.figures', {
    rtt: ms(f.rtt_ms), jitter: ms(f.jitter_ms), up: pct(f.uplink_loss), down: pct(f.downlink_loss),
    send: kbps(f.send_kbps), receive: kbps(f.receive_kbps),
  });
}

function applyMarks(list, figures) {
  for (const row of list.querySelectorAll('li[data-id]')) {
    const f = figures[row.dataset.id];
    let mark = row.querySelector(':scope > .net-mark');
    if (!f) { if (mark) mark.remove(); delete row.dataset.net; continue; }
    if (!mark) {
      mark = document.createElement('span');
      mark.className = 'net-mark';
      mark.setAttribute('role', 'img');
      row.prepend(mark);
    }
    if (mark.dataset.mark !== f.mark) {
      mark.dataset.mark = f.mark;
      mark.textContent = t(`net.${f.mark}`);
    }
    const text = `${t(`net.${f.mark}`)} · ${figuresText(f)}`;
    if (mark.title !== text) { mark.title = text; mark.setAttribute('aria-label', text); }
    row.dataset.net = f.mark;
  }
}

/** The console: mark each row of `list` (li[data-id]) from the server's `network` messages,
 *  again after every re-render of the list. */
export function watchNetwork(session, list) {
  let figures = {};
  let applying = false;
  const apply = () => {
    if (applying) return;
    applying = true;
    try { applyMarks(list, figures); } finally { applying = false; }
  };
  session.addEventListener('network', (e) => {
    if (e.detail && e.detail.participants) { figures = e.detail.participants; apply(); }
  });
  new MutationObserver(() => apply()).observe(list, { childList: true });
  return { get figures() { return figures; } };
}

/** A participant's page: a banner while its own link is weak or bad. */
export function watchOwnLink(session) {
  let node = document.getElementById('net-warning');
  if (!node) {
    node = document.createElement('div');
    node.id = 'net-warning';
    node.className = 'banner net-warning';
    node.setAttribute('role', 'status');
    node.hidden = true;
    document.body.prepend(node);
  }
  session.addEventListener('network', (e) => {
    const f = e.detail && e.detail.you;
    if (!f) return;
    node.dataset.mark = f.mark;
    if (f.mark === 'weak' || f.mark === 'bad') {
      node.textContent = `${t(`net.you_${f.mark}`)} (${figuresText(f)})`;
      node.hidden = false;
    } else {
      node.hidden = true;
    }
  });
}
