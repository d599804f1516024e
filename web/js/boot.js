// What the participant pages share: the token from the URL fragment, the hearing header,
// the participant badges.

import { $, el, clear, clock } from './util.js';
import { t, roleName } from './i18n.js';

export const COURT_ROLES = new Set(['judge', 'clerk', 'mediator']);
export const LIVE = new Set(['open', 'in_session', 'recess']);

/**
 * The join token: from `#token=...` (then taken out of the address bar, so that it does not
 * show on a shared screen; kept in this tab's sessionStorage for reloads).
 */
export function readToken(hearingId) {
  const key = `courtroom.token.${hearingId}`;
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromUrl = fragment.get('token');
  if (fromUrl) {
    try { sessionStorage.setItem(key, fromUrl); } catch { /* private mode */ }
    history.replaceState(null, '', location.pathname + location.search);
    return fromUrl;
  }
  try { return sessionStorage.getItem(key); } catch { return null; }
}

/**
 * An unverified peek into the token (role, participant): only to pick the right page before
 * the server has answered. The server's answer always decides.
 */
export function tokenHint(token) {
  try {
    const payload = token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(payload + '='.repeat((4 - payload.length % 4) % 4)))
      .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    const data = JSON.parse(json);
    return { participant: data.p || null, role: data.r || null, expires: data.e || null };
  } catch {
    return { participant: null, role: null, expires: null };
  }
}

/** Fill the header: court, case number, title, state; keep the hearing clock running. */
export class HearingHeader {
  constructor() {
    this.hearing = null;
    this.receivedAt = 0;
    setInterval(() => this._tick(), 1000);
  }

  update(hearing) {
    this.hearing = hearing;
    this.receivedAt = performance.now();
    this.render();
  }

  render() {
    const h = this.hearing;
    if (!h) return;
    const set = (id, text) => { const n = $(`#${id}`); if (n) n.textContent = text || ''; };
    set('court-name', h.court || t('app.court'));
    set('case-number', h.case_number);
    set('case-title', h.title && h.title !== h.case_number ? h.title : '');
    const badge = $('#hearing-state');
    if (badge) {
      badge.textContent = t(`hearing_state.${h.state}`);
      badge.dataset.state = h.state;
      badge.className = `badge state-${h.state}`;
    }
    document.title = `${h.case_number} · ${t('app.court_short')}`;
    this._tick();
  }

  now() {
    const h = this.hearing;
    if (!h || typeof h.hearing_time !== 'number') return null;
    if (!LIVE.has(h.state)) return h.hearing_time;
    return h.hearing_time + (performance.now() - this.receivedAt) / 1000;
  }

  _tick() {
    const node = $('#hearing-clock');
    if (!node) return;
    const now = this.now();
    node.textContent = now === null || !this.hearing.opened_at ? '' : clock(now);
  }
}

/** The badges that say where a participant stands. */
export function participantBadges(p) {
  const badges = [];
  badges.push(el('span', { class: `badge pstate-${p.state}`, dataset: { k: 'state' } }, t(`participant_state.${p.state}`)));
  badges.push(el('span', { class: `badge ${p.connected ? 'badge-ok' : 'badge-muted'}`, dataset: { k: 'connected' } }, t(p.connected ? 'badge.online' : 'badge.offline')));
  if (p.witness_state) badges.push(el('span', { class: 'badge badge-info', dataset: { k: 'witness' } }, t(`witness_state.${p.witness_state}`)));
  if (p.muted) badges.push(el('span', { class: 'badge badge-warn', dataset: { k: 'muted' } }, t('badge.muted')));
  else if (p.self_muted) badges.push(el('span', { class: 'badge badge-muted', dataset: { k: 'self_muted' } }, t('badge.self_muted')));
  if (p.hand_raised) badges.push(el('span', { class: 'badge badge-hand', dataset: { k: 'hand' } }, t('badge.hand')));
  if (p.protected) badges.push(el('span', { class: 'badge badge-info', dataset: { k: 'protected' } }, t('badge.protected')));
  return badges;
}

export function participantLabel(p) {
  return el('span', { class: 'who' }, el('span', { class: 'role' }, roleName(p.role, p.side)), ' ', el('strong', {}, p.name));
}

/** A simple read-only list of the people in the hearing (the party's "people" tab). */
export function renderPeople(list, participants, selfId) {
  clear(list);
  for (const p of participants.filter((q) => q.state !== 'removed')) {
    list.append(el('li', { class: `person${p.id === selfId ? ' me' : ''}`, dataset: { id: p.id } },
      participantLabel(p), p.id === selfId ? el('span', { class: 'muted small' }, ` (${t('people.you')})`) : null,
      el('div', { class: 'badges' }, participantBadges(p))));
  }
}

/** Start a <video> with sound; if the browser refuses sound without a gesture, play muted and offer a button. */
export async function playWithSound(video, unmuteButton) {
  video.muted = false;
  try {
    await video.play();
    if (unmuteButton) unmuteButton.hidden = true;
  } catch {
    video.muted = true;
    try { await video.play(); } catch { /* nothing more to try */ }
    if (unmuteButton) {
      unmuteButton.hidden = false;
      unmuteButton.onclick = async () => {
        video.muted = false;
        try { await video.play(); unmuteButton.hidden = true; } catch { video.muted = true; }
      };
    }
  }
}

export function transcriptUrl(hearingId) {
  return `/api/hearings/${encodeURIComponent(hearingId)}/transcript?format=json`;
}
