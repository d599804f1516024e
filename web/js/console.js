// The judge's console (/console/{hearing_id}#token=...): the picture, the people and their
// states, the procedure, the broadcast, the live transcript with corrections, the exhibits,
// the events and, after closing, the confirmation of the record. Keyboard shortcuts for the
// frequent actions are listed on the page.

import { $, $$, el, clear, clock, showScreen, toast, confirmDialog, typingIn, wallTime } from './util.js';
import { api, blobUrl, hearingIdFromPath } from './api.js';
import { t, tMaybe, roleName, initI18n, onLanguage } from './i18n.js';
import { HearingSession, checkToken } from './session.js';
import { DeviceCheck } from './devices.js';
import { TranscriptView, segmentsOf, segmentOf } from './transcript.js';
import { EvidencePanel } from './evidence.js';
import { protectDialog } from './protect.js';
import {
  COURT_ROLES, LIVE, readToken, tokenHint, HearingHeader, participantBadges, participantLabel, playWithSound, transcriptUrl,
} from './boot.js';

// Which buttons to offer (the server decides; this only avoids offering what it will refuse).
const NOT_CLOSED = ['scheduled', ...LIVE];
const COURT = ['judge', 'clerk', 'mediator'];
const PRESIDING = ['judge', 'mediator'];
const RULES = {
  open: [['scheduled'], COURT],
  start: [['open'], PRESIDING],
  recess: [['in_session'], PRESIDING],
  resume: [['recess'], PRESIDING],
  close: [[...LIVE], PRESIDING],
  admit: [[...LIVE], COURT],
  mute: [[...LIVE], COURT],
  unmute: [[...LIVE], COURT],
  remove: [NOT_CLOSED, PRESIDING],
  call_witness: [['in_session'], PRESIDING],
  excuse_witness: [['in_session', 'recess'], PRESIDING],
  protect: [NOT_CLOSED, PRESIDING],
  unprotect: [NOT_CLOSED, PRESIDING],
  broadcast_on: [[...LIVE], PRESIDING],
  broadcast_off: [[...LIVE], PRESIDING],
};

const page = {
  hearingId: hearingIdFromPath(),
  token: null,
  me: null,
  hearing: null,
  state: null,
  session: null,
  devices: null,
  header: new HearingHeader(),
  transcript: null,
  evidence: null,
  events: [],
  cameraOn: true,
  record: null,
  recordLoaded: false,
  notice: null,
};
window.courtroomPage = page; // diagnostics (tests read the session's counters)

function may(action) {
  const h = page.hearing;
  const me = page.me;
  if (!h || !me) return false;
  if (page.state && Array.isArray(page.state.actions)) return page.state.actions.includes(action);
  const rule = RULES[action];
  if (!rule) return false;
  const [states, roles] = rule;
  if (!states.includes(h.state) || !roles.includes(me.role)) return false;
  if (me.role === 'mediator' && h.procedure !== 'mediation') return false;
  if (action === 'broadcast_on' && (!h.public || h.procedure === 'mediation')) return false;
  return true;
}

// --- notices and banner -------------------------------------------------------------------------

function notice(reason, opts = {}) {
  page.notice = { reason, ...opts };
  const key = `notice.${reason}`;
  $('#notice-title').textContent = tMaybe(`${key}.title`) || t('notice.unknown.title');
  $('#notice-text').textContent = tMaybe(`${key}.text`) || t('notice.unknown.text');
  $('#notice-help').textContent = tMaybe(`${key}.help`) || '';
  $('#screen-notice').dataset.reason = reason;
  const button = $('#notice-action');
  button.hidden = !opts.action;
  if (opts.action) { button.textContent = t(opts.action); button.onclick = opts.onAction; }
  showScreen('screen-notice');
}

function noticeForCode(code) {
  const known = ['token_expired', 'removed', 'bad_token', 'forbidden', 'not_found', 'unauthorized'];
  if (code === 'network' || !code) notice('network', { action: 'notice.retry', onAction: () => location.reload() });
  else notice(known.includes(code) ? code : 'bad_token');
  if (page.devices) page.devices.stop();
}

let bannerTimer = null;
function banner(status) {
  const node = $('#conn-banner');
  clearTimeout(bannerTimer);
  const was = node.dataset.status;
  node.dataset.status = status;
  node.className = `banner banner-${status}`;
  if (status === 'connected') {
    if (was === 'reconnecting' || was === 'offline') {
      node.textContent = t('conn.reconnected');
      node.hidden = false;
      bannerTimer = setTimeout(() => { node.hidden = true; }, 4000);
    } else node.hidden = true;
  } else if (status === 'reconnecting' || status === 'offline') {
    node.textContent = t(`conn.${status}`);
    node.hidden = false;
  } else node.hidden = true;
}

// --- boot ---------------------------------------------------------------------------------------

async function boot() {
  initI18n();
  onLanguage(rerender);
  if (!page.hearingId) { notice('not_found'); return; }
  page.token = readToken(page.hearingId);
  if (!page.token) { notice('no_token'); return; }
  const hint = tokenHint(page.token);
  const check = await checkToken(page.hearingId, page.token);
  if (!check.ok) { noticeForCode(check.code); return; }
  page.hearing = check.hearing;
  page.header.update(page.hearing);
  page.me = (page.hearing.participants || []).find((p) => p.id === hint.participant) || null;
  const role = page.me ? page.me.role : hint.role;
  if (role && !COURT_ROLES.has(role)) {
    location.replace(`/join/${encodeURIComponent(page.hearingId)}#token=${encodeURIComponent(page.token)}`);
    return;
  }
  greet();
  showScreen('screen-check');
  page.devices = new DeviceCheck({
    preview: $('#check-preview'),
    meter: $('#mic-meter'),
    cameraSelect: $('#camera-select'),
    micSelect: $('#mic-select'),
    speakerSelect: $('#speaker-select'),
    testButton: $('#speaker-test'),
    message: $('#device-message'),
    previewOff: $('#check-preview-off'),
  });
  page.devices.bind({ onTrackChange: swapTracks });
  page.devices.addEventListener('speaker', (e) => {
    const video = $('#stage-video');
    if (typeof video.setSinkId === 'function') video.setSinkId(e.detail).catch(() => {});
  });
  page.devices.addEventListener('change', (e) => { $('#retry-devices').hidden = !e.detail.reason; });
  $('#retry-devices').onclick = () => page.devices.start();
  $('#enter-button').onclick = enter;
  if (page.hearing.state === 'closed') { enter(); return; } // nothing live: straight to the record
  page.devices.start();
}

function greet() {
  const me = page.me;
  $('#check-greeting').textContent = me ? t('check.greeting', { name: me.name, role: roleName(me.role, me.side) }) : t('check.greeting_anonymous');
}

async function swapTracks(stream) {
  if (!page.session || !stream) return;
  await page.session.useStream(stream);
  $('#self-video').srcObject = stream;
}

async function enter() {
  $('#enter-button').disabled = true;
  if (page.devices) await page.devices.pending; // the camera may still be opening
  const session = new HearingSession({
    hearingId: page.hearingId,
    token: page.token,
    localStream: () => (page.devices ? page.devices.stream : null),
    publish: true,
  });
  page.session = session;
  session.addEventListener('status', (e) => onStatus(e.detail.status));
  session.addEventListener('state', (e) => onState(e.detail));
  session.addEventListener('remotestream', (e) => onRemote(e.detail.stream));
  session.addEventListener('mediastate', (e) => { document.body.dataset.media = e.detail.state; renderStage(); });
  session.addEventListener('transcript', (e) => page.transcript.apply(segmentOf(e.detail)));
  session.addEventListener('transcript_history', (e) => page.transcript.load(segmentsOf(e.detail)));
  session.addEventListener('evidence', (e) => page.evidence.update(e.detail));
  session.addEventListener('exhibit', (e) => page.evidence.showing(e.detail.presenting));
  session.addEventListener('notice', (e) => toast(tMaybe(`notice_code.${e.detail.code}`) || e.detail.message, e.detail.code === 'asr_recovered' ? 'ok' : 'error', 8000));
  session.addEventListener('event', (e) => addEvent(e.detail.event));
  session.addEventListener('servererror', (e) => onServerError(e.detail));
  session.addEventListener('fatal', (e) => noticeForCode(e.detail.code));
  setupUi();
  showScreen('screen-console');
  session.start();
  loadEvents();
  loadTranscript();
  page.evidence.load();
}

function setupUi() {
  const self = $('#self-video');
  if (page.devices.stream) { self.srcObject = page.devices.stream; self.play().catch(() => {}); }
  page.transcript = new TranscriptView($('#transcript-list'), { captions: $('#captions'), onEdit: correct });
  const presenter = page.me && ['judge', 'mediator'].includes(page.me.role);
  page.evidence = new EvidencePanel($('#evidence'), { hearingId: page.hearingId, token: page.token, canUpload: true, canPresent: presenter });
  for (const tab of $$('.tab')) tab.addEventListener('click', () => selectTab(tab.dataset.tab));
  for (const button of $$('.proc')) button.addEventListener('click', () => procedure(button.dataset.action));
  $('#mic-button').onclick = toggleMic;
  $('#cam-button').onclick = toggleCamera;
  $('#broadcast-button').onclick = toggleBroadcast;
  $('#admit-all').onclick = admitAll;
  $('#record-refresh').onclick = loadRecord;
  for (const b of $$('.download')) b.addEventListener('click', () => download(b.dataset.format));
  document.addEventListener('keydown', onKey);
}

let recordTimer = null;
function selectTab(id) {
  for (const tab of $$('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.tab === id));
  for (const panel of $$('.tabpanel')) panel.hidden = panel.id !== id;
  clearInterval(recordTimer);
  if (id === 'tab-record') {
    loadRecord();
    // Confirmations come in over HTTP from the parties' pages: look again now and then.
    recordTimer = setInterval(() => { if (page.hearing && page.hearing.state === 'closed') loadRecord(); }, 10000);
  }
}

// --- state --------------------------------------------------------------------------------------

function onStatus(status) {
  banner(status);
  if (status === 'replaced') notice('replaced', { action: 'notice.replaced.action', onAction: () => { showScreen('screen-console'); page.session.takeOver(); } });
  else if (status === 'removed') notice('removed');
  else if (status === 'expired') noticeForCode('token_expired');
  else if (status === 'invalid') noticeForCode('bad_token');
  renderStage();
}

function onServerError(message) {
  if (['replaced', 'removed', 'not_live'].includes(message.code)) return;
  toast(tMaybe(`error.${message.code}`) || message.message, 'error', 6000);
}

function onState(message) {
  const before = page.hearing ? page.hearing.state : null;
  page.state = message;
  page.hearing = message.hearing;
  page.me = message.you;
  page.header.update(message.hearing);
  if (document.body.dataset.screen !== 'screen-console' && page.session.status === 'connected') showScreen('screen-console');
  renderProcedure();
  renderPeople();
  renderStage();
  renderControls();
  if (message.hearing.state === 'closed' && before !== 'closed') {
    selectTab('tab-record');
    // Nothing is live any more: the camera and microphone go off.
    if (page.devices) page.devices.stopTracks();
    $('#self-video').srcObject = null;
    renderControls();
  }
}

function renderProcedure() {
  for (const button of $$('.proc')) {
    const action = button.dataset.action;
    const allowed = may(action);
    button.disabled = !allowed;
    // start and resume share a key and a place: show the one that applies.
    if (action === 'resume') button.hidden = page.hearing.state !== 'recess';
    if (action === 'start') button.hidden = page.hearing.state === 'recess';
  }
  const b = $('#broadcast-button');
  const h = page.hearing;
  const broadcastable = h.public && h.procedure !== 'mediation';
  b.hidden = !broadcastable;
  b.setAttribute('aria-pressed', String(!!h.broadcast));
  b.classList.toggle('on', !!h.broadcast);
  b.querySelector('.lbl').textContent = t(h.broadcast ? 'broadcast.on' : 'broadcast.off');
  b.disabled = !(h.broadcast ? may('broadcast_off') : may('broadcast_on'));
  const delay = $('#broadcast-delay');
  delay.hidden = !broadcastable;
  delay.textContent = t('broadcast.delay', { seconds: Math.round(h.broadcast_delay || 0) });
}

function actionButton(label, action, p, kind = '') {
  return el('button', {
    type: 'button',
    class: `btn btn-small ${kind}`,
    dataset: { action, participant: p.id },
    disabled: !may(action),
    onclick: () => act(action, p),
  }, t(label));
}

function renderPeople() {
  const list = $('#console-people');
  clear(list);
  const people = (page.hearing.participants || []).filter((p) => p.state !== 'removed');
  const order = { waiting: 0, invited: 2, admitted: 1, left: 3 };
  people.sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
  let waiting = 0;
  for (const p of people) {
    const self = p.id === page.me.id;
    const actions = [];
    if (!self) {
      if (['waiting', 'invited', 'left'].includes(p.state) && p.role !== 'witness') actions.push(actionButton('action.admit', 'admit', p, 'btn-primary'));
      if (p.role === 'witness') {
        if (p.witness_state === 'testifying') actions.push(actionButton('action.excuse_witness', 'excuse_witness', p));
        else actions.push(actionButton(p.witness_state === 'excused' ? 'action.recall_witness' : 'action.call_witness', 'call_witness', p, 'btn-primary'));
      }
      if (p.state === 'admitted' || p.state === 'waiting') actions.push(p.muted ? actionButton('action.unmute', 'unmute', p) : actionButton('action.mute', 'mute', p));
      actions.push(p.protected ? actionButton('action.unprotect', 'unprotect', p) : actionButton('action.protect', 'protect', p));
      actions.push(actionButton('action.remove', 'remove', p, 'btn-danger'));
    }
    if (p.state === 'waiting') waiting += 1;
    list.append(el('li', { class: `person state-${p.state}${self ? ' me' : ''}${p.hand_raised ? ' hand' : ''}`, dataset: { id: p.id, state: p.state } },
      el('div', { class: 'person-head' }, participantLabel(p), self ? el('span', { class: 'muted small' }, ` (${t('people.you')})`) : null),
      el('div', { class: 'badges' }, participantBadges(p)),
      actions.length ? el('div', { class: 'person-actions' }, actions) : null));
  }
  const all = $('#admit-all');
  all.disabled = !waiting || !may('admit');
  all.textContent = waiting ? t('console.admit_all_n', { n: waiting }) : t('console.admit_all');
}

function renderStage() {
  const overlay = $('#stage-overlay');
  if (!overlay || !page.hearing) return;
  const status = page.session ? page.session.status : 'connecting';
  const video = $('#stage-video');
  let text = '';
  if (status !== 'connected') text = t(`conn.${status}`) || '';
  else if (page.hearing.state === 'scheduled') text = t('console.overlay_scheduled');
  else if (page.hearing.state === 'closed') text = t('console.overlay_closed');
  else if (!video.srcObject || video.readyState < 2) text = t('hearing.connecting_media');
  overlay.textContent = text;
  overlay.hidden = !text;
}

function renderControls() {
  const you = page.me || {};
  const hasAudio = !!(page.devices && page.devices.stream && page.devices.stream.getAudioTracks().length);
  const hasVideo = !!(page.devices && page.devices.stream && page.devices.stream.getVideoTracks().length);
  const mic = $('#mic-button');
  mic.setAttribute('aria-pressed', String(!!you.self_muted));
  mic.querySelector('.lbl').textContent = t(you.self_muted ? 'hearing.unmute' : 'hearing.mute');
  mic.disabled = !hasAudio;
  const cam = $('#cam-button');
  cam.setAttribute('aria-pressed', String(!page.cameraOn));
  cam.querySelector('.lbl').textContent = t(page.cameraOn ? 'hearing.camera_off' : 'hearing.camera_on');
  cam.disabled = !hasVideo;
  $('#self-off').hidden = page.cameraOn && hasVideo;
  if (page.devices) page.devices.setMicrophone(!you.self_muted);
}

function onRemote(stream) {
  const video = $('#stage-video');
  if (video.srcObject !== stream) video.srcObject = stream;
  playWithSound(video, $('#unmute-speaker'));
  video.onloadeddata = renderStage;
  video.onplaying = renderStage;
}

// --- actions ------------------------------------------------------------------------------------

async function procedure(action) {
  if (!may(action)) return;
  if (action === 'close') {
    const ok = await confirmDialog(t('console.close_confirm'), t('action.close'), t('common.cancel'));
    if (!ok) return;
  }
  page.session.action(action);
}

async function act(action, p) {
  if (action === 'protect') {
    const screened = await protectDialog(p, page.hearing.participants);
    if (screened === null) return;
    page.session.action('protect', p.id, { screened_from: screened });
    return;
  }
  if (action === 'remove') {
    const ok = await confirmDialog(t('console.remove_confirm', { name: p.name }), t('action.remove'), t('common.cancel'));
    if (!ok) return;
  }
  page.session.action(action, p.id);
}

function admitAll() {
  for (const p of page.hearing.participants || []) {
    if (p.state === 'waiting' && p.role !== 'witness') page.session.action('admit', p.id);
  }
}

function admitNext() {
  const next = (page.hearing.participants || []).find((p) => p.state === 'waiting' && p.role !== 'witness');
  if (next && may('admit')) page.session.action('admit', next.id);
}

function toggleBroadcast() {
  const on = !!page.hearing.broadcast;
  const action = on ? 'broadcast_off' : 'broadcast_on';
  if (may(action)) page.session.action(action);
}

function toggleMic() {
  const muted = !!(page.me && page.me.self_muted);
  if (page.devices) page.devices.setMicrophone(muted);
  page.session.action(muted ? 'self_unmute' : 'self_mute');
}

function toggleCamera() {
  page.cameraOn = !page.cameraOn;
  page.devices.setCamera(page.cameraOn);
  renderControls();
}

function onKey(event) {
  if (typingIn(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector('dialog[open]')) return;
  if (document.body.dataset.screen !== 'screen-console' || !page.hearing) return;
  const key = event.key;
  const state = page.hearing.state;
  let handled = true;
  if (key === 'o' || key === 'O') procedure('open');
  else if (key === 's' || key === 'S') procedure(state === 'recess' ? 'resume' : 'start');
  else if (key === 'r' || key === 'R') procedure('recess');
  else if (key === 'C' && event.shiftKey) procedure('close');
  else if (key === 'A' && event.shiftKey) admitAll();
  else if (key === 'a') admitNext();
  else if (key === 'm' || key === 'M') toggleMic();
  else if (key === 'v' || key === 'V') toggleCamera();
  else if (key === 'b' || key === 'B') toggleBroadcast();
  else if (['1', '2', '3', '4'].includes(key)) selectTab(['tab-transcript', 'tab-evidence', 'tab-events', 'tab-record'][Number(key) - 1]);
  else if (key === '?') { const d = $('#shortcuts'); d.open = !d.open; }
  else handled = false;
  if (handled) event.preventDefault();
}

// --- transcript, events, record ---------------------------------------------------------------

async function loadTranscript() {
  const reply = await api(transcriptUrl(page.hearingId), { token: page.token });
  if (reply.ok) page.transcript.load(segmentsOf(reply.data));
}

async function correct(segment, text) {
  const reply = await api(`/api/hearings/${encodeURIComponent(page.hearingId)}/transcript/${encodeURIComponent(segment.id)}`, {
    method: 'PATCH', token: page.token, json: { text },
  });
  if (reply.ok) { toast(t('transcript.corrected_ok'), 'ok'); return true; }
  toast(reply.status === 404 ? t('transcript.correct_unavailable') : (tMaybe(`error.${reply.error}`) || reply.message), 'error');
  return false;
}

async function loadEvents() {
  const reply = await api(`/api/hearings/${encodeURIComponent(page.hearingId)}/events`, { token: page.token });
  if (!reply.ok) return;
  const known = new Set(page.events.map((e) => e.seq));
  for (const e of reply.data.events || []) if (!known.has(e.seq)) page.events.push(e);
  page.events.sort((a, b) => a.seq - b.seq);
  renderEvents();
}

function addEvent(event) {
  if (!event || page.events.some((e) => e.seq === event.seq)) return;
  page.events.push(event);
  renderEvents();
}

function nameOf(id) {
  if (!id) return '';
  if (id === 'clerk') return t('role.clerk');
  if (id === 'system') return t('event.system');
  const p = ((page.hearing && page.hearing.participants) || []).find((q) => q.id === id);
  return p ? `${roleName(p.role, p.side)} ${p.name}` : id;
}

function renderEvents() {
  const list = $('#event-list');
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
  clear(list);
  for (const e of page.events.slice(-300)) {
    const kind = tMaybe(`event.${e.kind}`) || e.kind;
    const who = nameOf(e.actor);
    const whom = e.subject && e.subject !== e.actor ? nameOf(e.subject) : '';
    list.append(el('li', { dataset: { kind: e.kind } },
      el('span', { class: 'seg-time mono' }, clock(e.hearing_time)),
      el('span', {}, kind),
      who ? el('span', { class: 'muted' }, ` · ${who}`) : null,
      whom ? el('span', {}, ` → ${whom}`) : null));
  }
  if (stick) list.scrollTop = list.scrollHeight;
}

async function loadRecord() {
  const box = $('#record-status');
  if (!page.hearing || page.hearing.state !== 'closed') {
    clear(box).append(el('p', { class: 'muted' }, t('record.after_close')));
    return;
  }
  const reply = await api(`/api/hearings/${encodeURIComponent(page.hearingId)}/record`, { token: page.token });
  if (reply.ok) { page.record = reply.data; renderRecord(); return; }
  clear(box).append(el('p', { class: 'notice notice-info', dataset: { unavailable: '1' } },
    reply.status === 404 ? t('record.unavailable') : (tMaybe(`error.${reply.error}`) || reply.message)));
}

function renderRecord() {
  const box = clear($('#record-status'));
  const r = page.record || {};
  const confirmations = Array.isArray(r.confirmations) ? r.confirmations : [];
  const pending = Array.isArray(r.pending) ? r.pending : [];
  const objected = confirmations.some((c) => c.decision === 'object');
  const status = r.complete ? (objected ? 'complete_objections' : 'complete') : r.sealed ? 'partial' : 'pending';
  box.dataset.status = status;
  box.append(el('p', { class: 'lead', dataset: { status } }, t(`record.status.${status}`)));
  if (r.sha256) box.append(el('p', { class: 'mono small muted break', title: t('record.sha_hint') }, `SHA-256 ${r.sha256}`));
  const list = el('ul', { class: 'people' });
  for (const c of confirmations) {
    const ok = c.decision === 'confirm';
    list.append(el('li', { class: 'person', dataset: { participant: c.participant, decision: c.decision } },
      el('span', {}, `${roleName(c.role)} ${c.name} `),
      el('span', { class: `badge ${ok ? 'badge-ok' : 'badge-warn'}` }, `${t(ok ? 'record.confirmed' : 'record.objected')} ${wallTime(c.wall_time)}`),
      c.objection ? el('div', { class: 'small' }, t('record.objection', { text: c.objection })) : null));
  }
  for (const p of pending) {
    list.append(el('li', { class: 'person', dataset: { participant: p.participant, decision: 'pending' } },
      el('span', {}, `${roleName(p.role)} ${p.name} `), el('span', { class: 'badge badge-muted' }, t('record.pending'))));
  }
  if (confirmations.length || pending.length) box.append(list);
}

async function download(format) {
  const url = await blobUrl(`/api/hearings/${encodeURIComponent(page.hearingId)}/transcript?format=${format}`, page.token);
  if (!url) { toast(t('record.download_unavailable'), 'error'); return; }
  const a = el('a', { href: url, download: `${page.hearing.case_number}.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function rerender() {
  page.header.render();
  if (document.body.dataset.screen === 'screen-check') { greet(); page.devices && page.devices._render(); }
  if (document.body.dataset.screen === 'screen-notice' && page.notice) notice(page.notice.reason, page.notice);
  if (page.state) { renderProcedure(); renderPeople(); renderStage(); renderControls(); }
  if (page.transcript) page.transcript.rerender();
  if (page.evidence) page.evidence.rerender();
  renderEvents();
  if (page.record) renderRecord();
  const node = $('#conn-banner');
  if (!node.hidden && ['reconnecting', 'offline'].includes(node.dataset.status)) node.textContent = t(`conn.${node.dataset.status}`);
}

window.addEventListener('pagehide', () => { if (page.session) page.session.stop(); if (page.devices) page.devices.stop(); });

boot();
