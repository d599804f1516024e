// The clerk's desk (/clerk): the API key (kept in this tab's sessionStorage), scheduling,
// inviting participants and handing out their join links, the day's docket.

import { $, el, clear, toast, copyText, wallTime, confirmDialog } from './util.js';
import { api } from './api.js';
import { t, tMaybe, roleName, initI18n, onLanguage } from './i18n.js';
import { identityFields, identityOf, clearIdentity } from './identity.js';

const KEY = 'courtroom.adminKey';
const LINKS = 'courtroom.joinLinks';

const desk = {
  key: null,
  hearings: [],
  selected: null, // the hearing shown in the panel (with participants)
};

function storedKey() {
  try { return sessionStorage.getItem(KEY); } catch { return null; }
}

function links() {
  try { return JSON.parse(sessionStorage.getItem(LINKS) || '{}'); } catch { return {}; }
}

function saveLink(participantId, url) {
  const all = links();
  all[participantId] = url;
  try { sessionStorage.setItem(LINKS, JSON.stringify(all)); } catch { /* ignore */ }
}

function errorText(reply) {
  return tMaybe(`error.${reply.error}`) || reply.message || t('error.unknown');
}

function showError(id, text) {
  const node = $(`#${id}`);
  node.hidden = !text;
  node.textContent = text || '';
}

// --- key ----------------------------------------------------------------------------------------

async function useKey(key) {
  const reply = await api('/api/hearings', { token: key });
  if (!reply.ok) {
    showError('key-error', reply.status === 401 || reply.status === 403 ? t('clerk.key_wrong') : errorText(reply));
    return false;
  }
  desk.key = key;
  try { sessionStorage.setItem(KEY, key); } catch { /* ignore */ }
  showError('key-error', '');
  $('#key-panel').hidden = true;
  $('#desk').hidden = false;
  $('#forget-key').hidden = false;
  desk.hearings = reply.data.hearings || [];
  renderDocket();
  loadDocketLinks();
  return true;
}

function forgetKey() {
  try { sessionStorage.removeItem(KEY); sessionStorage.removeItem(LINKS); } catch { /* ignore */ }
  location.reload();
}

// --- docket -------------------------------------------------------------------------------------

function isToday(h) {
  const when = h.scheduled_at || h.created_at;
  if (!when) return false;
  const d = new Date(when * 1000);
  const now = new Date();
  return d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
}

async function loadDocket() {
  const reply = await api('/api/hearings', { token: desk.key });
  if (reply.ok) { desk.hearings = reply.data.hearings || []; renderDocket(); }
  else toast(errorText(reply), 'error');
}

function renderDocket() {
  const all = $('#show-all').checked;
  const rows = desk.hearings.filter((h) => all || isToday(h));
  const body = clear($('#docket tbody'));
  for (const h of rows) {
    const tr = el('tr', {
      class: `clickable${desk.selected && desk.selected.id === h.id ? ' selected' : ''}`,
      dataset: { id: h.id },
      tabindex: 0,
      onclick: () => select(h.id),
      onkeydown: (e) => { if (e.key === 'Enter') select(h.id); },
    },
    el('td', { class: 'mono' }, wallTime(h.scheduled_at || h.created_at, all)),
    el('td', {}, h.case_number),
    el('td', {}, h.title !== h.case_number ? h.title : ''),
    el('td', {}, `${t(`procedure.${h.procedure}`)}${h.public ? ` · ${t('clerk.public_short')}` : ''}`),
    el('td', {}, el('span', { class: `badge state-${h.state}` }, t(`hearing_state.${h.state}`))));
    body.append(tr);
  }
  $('#docket-empty').hidden = rows.length > 0;
  $('#docket-empty').textContent = all ? t('clerk.docket_none') : t('clerk.docket_empty');
}

// --- one hearing --------------------------------------------------------------------------------

async function select(id) {
  const reply = await api(`/api/hearings/${encodeURIComponent(id)}`, { token: desk.key });
  if (!reply.ok) { toast(errorText(reply), 'error'); return; }
  desk.selected = reply.data;
  renderDocket();
  renderHearing();
}

function renderHearing() {
  const h = desk.selected;
  const panel = $('#hearing-panel');
  panel.hidden = !h;
  if (!h) return;
  panel.dataset.id = h.id;
  $('#hearing-heading').textContent = `${h.case_number}${h.title && h.title !== h.case_number ? ` ${h.title}` : ''}`;
  const badge = $('#hearing-panel-state');
  badge.textContent = t(`hearing_state.${h.state}`);
  badge.className = `badge state-${h.state}`;
  $('#hearing-meta').textContent = [h.court, t(`procedure.${h.procedure}`), h.public ? t('clerk.public_short') : t('clerk.not_public'),
    h.scheduled_at ? wallTime(h.scheduled_at, true) : ''].filter(Boolean).join(' · ');
  $('#open-hearing').disabled = h.state !== 'scheduled';
  const known = links();
  const body = clear($('#participants tbody'));
  for (const p of h.participants || []) {
    const url = known[p.id];
    const cell = url
      ? el('td', { class: 'link-cell' },
        el('input', { type: 'text', class: 'join-link mono', readonly: true, value: url, 'aria-label': t('clerk.col_link'), onfocus: (e) => e.target.select() }),
        el('button', { type: 'button', class: 'btn btn-small', onclick: async () => toast(t(await copyText(url) ? 'clerk.copied' : 'clerk.copy_failed'), 'ok') }, t('clerk.copy')))
      : el('td', { class: 'muted small' }, t('clerk.link_hidden'));
    body.append(el('tr', { dataset: { id: p.id } },
      el('td', {}, roleName(p.role, p.side)),
      el('td', {}, p.name),
      el('td', {}, t(`participant_state.${p.state}`)),
      cell));
  }
  const mediation = h.procedure === 'mediation';
  for (const option of $('#participant-form select[name=role]').options) {
    if (option.value === 'mediator') option.disabled = !mediation;
  }
}

async function schedule(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = {
    case_number: String(data.get('case_number') || '').trim(),
    title: String(data.get('title') || '').trim(),
    procedure: data.get('procedure'),
    public: data.get('public') === 'on',
  };
  const when = data.get('scheduled_at');
  if (when) body.scheduled_at = Math.floor(new Date(when).getTime() / 1000);
  if (!body.title) delete body.title;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  const reply = await api('/api/hearings', { method: 'POST', token: desk.key, json: body });
  button.disabled = false;
  if (!reply.ok) { showError('schedule-error', errorText(reply)); return; }
  showError('schedule-error', '');
  form.reset();
  toast(t('clerk.scheduled', { case_number: reply.data.case_number }), 'ok');
  await loadDocket();
  await select(reply.data.id);
}

async function addParticipant(event) {
  event.preventDefault();
  const h = desk.selected;
  if (!h) return;
  const form = event.target;
  const data = new FormData(form);
  const body = { name: String(data.get('name') || '').trim(), role: data.get('role') };
  if (body.role === 'agent') body.side = data.get('side');
  const identity = identityOf(form); // identity.js: who should appear (ID type, last four)
  if (identity) body.identity = identity;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  const reply = await api(`/api/hearings/${encodeURIComponent(h.id)}/participants`, { method: 'POST', token: desk.key, json: body });
  button.disabled = false;
  if (!reply.ok) { showError('participant-error', errorText(reply)); return; }
  showError('participant-error', '');
  saveLink(reply.data.id, reply.data.join_url);
  form.querySelector('input[name=name]').value = '';
  clearIdentity(form);
  await select(h.id);
  const input = $(`#participants tr[data-id="${reply.data.id}"] .join-link`);
  if (input) { input.focus(); input.closest('tr').classList.add('fresh'); }
}

async function openHearing() {
  const h = desk.selected;
  const reply = await api(`/api/hearings/${encodeURIComponent(h.id)}/actions`, { method: 'POST', token: desk.key, json: { action: 'open' } });
  if (!reply.ok) { toast(errorText(reply), 'error'); return; }
  await select(h.id);
  await loadDocket();
}

// A judge's standing link to their docket (/docket): shown once, like join links. The list below
// it shows every judge's link, live or revoked (never the link itself), each live one revocable.
const dockets = { links: [], shown: null }; // shown: the judge whose new link is on screen

async function issueDocketLink(event) {
  event.preventDefault();
  const name = event.target.elements.name.value.trim();
  const reply = await api('/api/docket-links', { method: 'POST', token: desk.key, json: { name } });
  showError('docket-link-error', reply.ok ? '' : errorText(reply));
  $('#docket-link-result').hidden = !reply.ok;
  if (reply.ok) {
    $('#docket-link').value = reply.data.url;
    dockets.shown = reply.data.name;
    await loadDocketLinks();
  }
}

async function revokeDocketLink(name) {
  if (!await confirmDialog(t('docket.revoke_confirm', { name }), t('docket.revoke'), t('common.cancel'))) return;
  const reply = await api(`/api/docket-links/${encodeURIComponent(name)}`, { method: 'DELETE', token: desk.key });
  showError('docket-link-error', reply.ok ? '' : errorText(reply));
  if (!reply.ok) return;
  toast(t('docket.revoked_toast', { name }), 'ok');
  if (dockets.shown === name) {
    // The link on screen no longer works: take it away so nobody copies it.
    $('#docket-link-result').hidden = true;
    $('#docket-link').value = '';
    dockets.shown = null;
  }
  await loadDocketLinks();
}

async function loadDocketLinks() {
  const reply = await api('/api/docket-links', { token: desk.key });
  if (!reply.ok) { showError('docket-link-error', errorText(reply)); return; }
  dockets.links = reply.data.links || [];
  renderDocketLinks();
}

function renderDocketLinks() {
  const body = clear($('#docket-links tbody'));
  for (const link of dockets.links) {
    const state = link.active ? t('docket.link_active') : t('docket.link_revoked', { time: wallTime(link.revoked_at) });
    const revoke = link.active
      ? el('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { revoke: link.name }, onclick: () => revokeDocketLink(link.name) }, t('docket.revoke'))
      : null;
    body.append(el('tr', { dataset: { name: link.name, active: String(link.active) } },
      el('td', {}, link.name), el('td', {}, wallTime(link.issued_at)), el('td', {}, state), el('td', {}, revoke)));
  }
  $('#docket-links-empty').hidden = dockets.links.length > 0;
}

function boot() {
  initI18n();
  $('#docket-link-form').addEventListener('submit', issueDocketLink);
  $('#docket-link-copy').onclick = async () => toast(t(await copyText($('#docket-link').value) ? 'clerk.copied' : 'clerk.copy_failed'), 'ok');
  $('#docket-link-revoke').onclick = () => { if (dockets.shown) revokeDocketLink(dockets.shown); };
  onLanguage(() => { renderDocket(); renderHearing(); renderDocketLinks(); });
  $('#key-form').addEventListener('submit', (e) => { e.preventDefault(); useKey($('#api-key').value.trim()); });
  $('#forget-key').onclick = forgetKey;
  $('#schedule-form').addEventListener('submit', schedule);
  $('#participant-form').addEventListener('submit', addParticipant);
  identityFields($('#participant-form'));
  $('#participant-form select[name=role]').addEventListener('change', (e) => { $('#side-field').hidden = e.target.value !== 'agent'; });
  $('#show-all').addEventListener('change', renderDocket);
  $('#docket-refresh').onclick = loadDocket;
  $('#open-hearing').onclick = openHearing;
  const key = storedKey();
  if (key) useKey(key);
}

boot();
