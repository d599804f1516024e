// A judge's docket (/docket#token=...): the judge's hearings of today and the coming week, each
// opening the console. The standing link comes from the clerk's desk.

import { $, el, clear, wallTime, getCourtZone, setCourtZone } from './util.js';
import { api } from './api.js';
import { t, initI18n, onLanguage } from './i18n.js';
import { readToken } from './boot.js';

const view = { token: null, data: null, error: null };

// Days in the court's time zone (the server's docket window uses the same one).
function dayKey(ts) {
  if (!ts) return '';
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: getCourtZone(), year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date(ts * 1000));
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

function dayTitle(key) {
  if (!key) return t('docket.unscheduled');
  const today = dayKey(Date.now() / 1000);
  const tomorrow = dayKey(Date.now() / 1000 + 86400);
  if (key === today) return t('docket.today', { date: key });
  if (key === tomorrow) return t('docket.tomorrow', { date: key });
  return key;
}

function render() {
  const status = $('#docket-status');
  const box = clear($('#docket-days'));
  if (view.error) {
    status.hidden = false;
    status.className = 'notice notice-error';
    status.textContent = t(view.error);
    return;
  }
  if (!view.data) return;
  $('#docket-judge').textContent = t('docket.judge', { name: view.data.judge });
  const hearings = view.data.hearings || [];
  status.hidden = hearings.length > 0;
  status.className = 'notice notice-info';
  status.textContent = t('docket.empty');
  const days = new Map();
  for (const h of hearings) {
    const key = ['open', 'in_session', 'recess'].includes(h.state) ? dayKey(Date.now() / 1000) : dayKey(h.scheduled_at);
    if (!days.has(key)) days.set(key, []);
    days.get(key).push(h);
  }
  for (const [key, list] of days) {
    const items = el('ul', { class: 'cards' });
    for (const h of list) {
      items.append(el('li', { class: `hearing-card${['open', 'in_session', 'recess'].includes(h.state) ? ' live' : ''}`, dataset: { id: h.id } },
        el('div', { class: 'card-link' },
          el('div', { class: 'row' }, el('strong', { class: 'grow' }, h.case_number), el('span', { class: `badge state-${h.state}` }, t(`hearing_state.${h.state}`))),
          h.title && h.title !== h.case_number ? el('span', {}, h.title) : null,
          el('span', { class: 'muted small' }, [h.scheduled_at ? wallTime(h.scheduled_at) : t('docket.no_time'), t(`procedure.${h.procedure}`), h.court].filter(Boolean).join(' · ')),
          el('a', { class: 'btn btn-primary btn-small', href: h.console_url, dataset: { console: h.id } }, t('docket.open_console')))));
    }
    box.append(el('section', { class: 'docket-day' }, el('h2', {}, dayTitle(key)), items));
  }
}

async function boot() {
  initI18n();
  onLanguage(render);
  view.token = readToken('docket');
  if (!view.token) { view.error = 'docket.no_token'; render(); return; }
  const reply = await api('/api/docket', { token: view.token });
  if (reply.ok) {
    view.data = reply.data;
    setCourtZone(reply.data.time_zone);
  }
  else view.error = { token_expired: 'docket.expired', link_revoked: 'docket.link_gone' }[reply.error] || 'docket.bad_token';
  render();
}

boot();
