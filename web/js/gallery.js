// The public gallery (/gallery): public hearings live now and their replays.

import { $, el, clear, wallTime } from './util.js';
import { api } from './api.js';
import { t, initI18n, onLanguage } from './i18n.js';

const gallery = { hearings: [], status: 'loading', query: '' };

function hearingsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.hearings)) return data.hearings;
  return [];
}

async function load() {
  const reply = await api('/public/hearings');
  if (reply.ok) {
    gallery.hearings = hearingsOf(reply.data);
    gallery.status = 'ok';
  } else {
    gallery.status = reply.status === 0 ? 'network' : reply.status === 404 ? 'unavailable' : 'error';
  }
  render();
}

const LIVE_STATES = ['open', 'in_session', 'recess'];
const isLive = (h) => !!h.live || LIVE_STATES.includes(h.state);

function card(h) {
  const live = isLive(h);
  const badge = !live ? t('gallery.replay_badge') : h.live ? `● ${t('gallery.live_badge')}` : t('gallery.soon_badge');
  return el('li', { class: `hearing-card${live ? ' live' : ''}`, dataset: { id: h.id } },
    el('a', { href: `/gallery/${encodeURIComponent(h.id)}`, class: 'card-link' },
      el('div', { class: 'row' },
        el('span', { class: `badge ${live && h.live ? 'badge-live' : 'badge-muted'}` }, badge),
        el('span', { class: 'muted small grow right' }, wallTime(h.scheduled_at || h.opened_at || h.created_at, true))),
      el('strong', { class: 'case-number' }, h.case_number || ''),
      h.title && h.title !== h.case_number ? el('div', {}, h.title) : null,
      el('div', { class: 'muted small' }, h.court || '')));
}

function render() {
  const status = $('#gallery-status');
  status.hidden = gallery.status === 'ok' || gallery.status === 'loading';
  status.dataset.status = gallery.status;
  status.className = `notice ${gallery.status === 'unavailable' ? 'notice-info' : 'notice-error'}`;
  status.textContent = gallery.status === 'ok' || gallery.status === 'loading' ? '' : t(`gallery.status.${gallery.status}`);
  const q = gallery.query.trim().toLowerCase();
  const matches = (h) => !q || `${h.case_number} ${h.title} ${h.court}`.toLowerCase().includes(q);
  const live = gallery.hearings.filter(isLive);
  const replays = gallery.hearings.filter((h) => !isLive(h) && h.replayable).filter(matches);
  const liveList = clear($('#live-list'));
  const replayList = clear($('#replay-list'));
  for (const h of live) liveList.append(card(h));
  for (const h of replays) replayList.append(card(h));
  if (gallery.status === 'ok') {
    if (!live.length) liveList.append(el('li', { class: 'empty muted' }, t('gallery.no_live')));
    if (!replays.length) replayList.append(el('li', { class: 'empty muted' }, t(q ? 'gallery.no_match' : 'gallery.no_replays')));
  }
}

function boot() {
  initI18n();
  onLanguage(render);
  $('#gallery-search').addEventListener('input', (e) => { gallery.query = e.target.value; render(); });
  load();
  setInterval(load, 30000);
}

boot();
