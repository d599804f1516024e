// The judge's console (/console/{hearing_id}#token=...): the picture, the people and their
// states, the procedure, the broadcast, the live transcript with corrections, the exhibits,
// the events and, after closing, the confirmation of the record. Keyboard shortcuts for the
// frequent actions are listed on the page.

import { $, $$, el, clear, showScreen, toast, confirmDialog, typingIn, wallTime, setCourtZone } from './util.js';
import { api, blobUrl, hearingIdFromPath } from './api.js';
import { t, tMaybe, roleName, initI18n, onLanguage } from './i18n.js';
import { HearingSession, checkToken } from './session.js';
import { DeviceCheck } from './devices.js';
import { TranscriptView, segmentsOf, segmentOf } from './transcript.js';
import { EvidencePanel } from './evidence.js';
import { recordStatusKey, renderSigning } from './record_review.js';
import { rulingSelect } from './rulings.js';
import { IdentityDesk } from './identity.js';
import { protectDialog } from './protect.js';
import { eventSentence } from './events.js';
import { Stage } from './stage.js';
import {
  COURT_ROLES, readToken, tokenHint, HearingHeader, participantBadges, participantLabel, playWithSound, transcriptUrl,
} from './boot.js';
import { watchNetwork } from './network.js';

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

// Controls come from the server only: `actions` (no target) and `participant_actions` (per
// participant) of the last state message, computed from courtroom/procedure.py and the roles table.
function may(action) {
  return !!(page.state && Array.isArray(page.state.actions) && page.state.actions.includes(action));
}

function mayOn(action, p) {
  const all = (page.state && page.state.participant_actions) || {};
  return Array.isArray(all[p.id]) && all[p.id].includes(action);
}

/** The participants that "admit all" admits: exactly those the server would admit now. */
function admittable() {
  return ((page.hearing && page.hearing.participants) || []).filter((p) => mayOn('admit', p));
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

// The court's database, told to the officers only (`store` messages): while it cannot be
// reached the pod's own writes wait; when it is back, how many were stored and lost.
let storeTimer = null;
function storeBanner(m) {
  const node = $('#store-banner');
  clearTimeout(storeTimer);
  const vars = { n: m.pending, stored: m.stored, lost: m.lost };
  const lost = m.lost ? ` ${t('store.lost', vars)}` : '';
  node.dataset.state = m.state;
  if (m.state === 'unavailable') {
    node.className = 'banner banner-error';
    node.textContent = t('store.unavailable', vars) + lost;
  } else {
    node.className = m.lost ? 'banner banner-reconnecting' : 'banner banner-connected';
    node.textContent = t('store.restored', vars) + lost;
    if (!m.lost) storeTimer = setTimeout(() => { node.hidden = true; }, 8000);
  }
  node.hidden = false;
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
  page.devices = DeviceCheck.onPage();
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
  session.addEventListener('evidence', (e) => { page.evidence.update(e.detail); renderEvents(); });
  session.addEventListener('exhibit', (e) => page.evidence.showing(e.detail.presenting));
  session.addEventListener('notice', (e) => toast(tMaybe(`notice_code.${e.detail.code}`) || e.detail.message, e.detail.code === 'asr_recovered' ? 'ok' : 'error', 8000));
  session.addEventListener('event', (e) => addEvent(e.detail.event));
  session.addEventListener('store', (e) => storeBanner(e.detail));
  session.addEventListener('speaker', (e) => page.stage && page.stage.speaker(e.detail.participant));
  session.addEventListener('record', () => { if (page.hearing && page.hearing.state === 'closed') loadRecord(); });
  session.addEventListener('servererror', (e) => onServerError(e.detail));
  session.addEventListener('fatal', (e) => noticeForCode(e.detail.code));
  watchNetwork(session, $('#console-people'));
  setupUi();
  page.identity = new IdentityDesk({
    hearingId: page.hearingId, token: page.token, session, may: (action, id) => mayOn(action, { id }),
    people: () => (page.hearing ? page.hearing.participants : []),
    onChange: () => { if (page.state) renderPeople(); },
  });
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
  page.stage = new Stage({
    stage: $('#stage'), zoom: $('#zoom'), video: $('#stage-video'), labels: $('#seat-labels'), captions: $('#captions'), foot: $('#stage-foot'),
  });
  page.stage.onZoom = renderZoomTools;
  $('#zoom-exhibit').onclick = () => { page.stage.following = false; page.stage.zoomExhibit(); };
  $('#zoom-out').onclick = () => { page.stage.following = false; page.stage.zoomTo(null); };
  $('#zoom-speaker').onclick = () => page.stage.follow(!page.stage.following);
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
  const was = page.lastStatus;
  page.lastStatus = status;
  if (status === 'connected' && was && was !== 'connected') loadEvents(); // pushes missed while away
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
  setCourtZone(message.hearing && message.hearing.time_zone);
  page.me = message.you;
  page.header.update(message.hearing);
  if (document.body.dataset.screen !== 'screen-console' && page.session.status === 'connected') showScreen('screen-console');
  renderProcedure();
  renderPeople();
  renderStage();
  renderControls();
  if (page.stage) page.stage.update(message.layout, message.hearing.participants);
  renderZoomTools();
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
    button.hidden = !may(action); // only what the procedure allows now
  }
  // Broadcast: the button names the action it fires; the on-air badge says what is happening.
  const b = $('#broadcast-button');
  const h = page.hearing;
  const next = h.broadcast ? 'broadcast_off' : 'broadcast_on';
  b.hidden = !may(next);
  b.dataset.action = next;
  b.classList.toggle('on', !!h.broadcast);
  b.querySelector('.lbl').textContent = t(h.broadcast ? 'broadcast.stop' : 'broadcast.start');
  const air = $('#on-air');
  air.hidden = !h.broadcast;
  air.textContent = t('broadcast.on_air', { seconds: Math.round(h.broadcast_delay || 0) });
}

function actionButton(label, action, p, kind = '') {
  return el('button', {
    type: 'button',
    class: `btn btn-small ${kind}`,
    dataset: { action, participant: p.id },
    onclick: () => act(action, p),
  }, t(label));
}

// The order and look of the controls on a participant; which ones appear is the server's answer.
const PERSON_CONTROLS = [
  ['admit', 'btn-primary'], ['call_witness', 'btn-primary'], ['excuse_witness', ''], ['mute', ''], ['unmute', ''],
  ['protect', ''], ['unprotect', ''], ['remove', 'btn-danger'],
];

function renderPeople() {
  const list = $('#console-people');
  clear(list);
  const people = (page.hearing.participants || []).filter((p) => p.state !== 'removed');
  const order = { waiting: 0, invited: 2, admitted: 1, left: 3 };
  people.sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
  for (const p of people) {
    const self = p.id === page.me.id;
    const actions = [];
    for (const [action, kind] of PERSON_CONTROLS) {
      if (!mayOn(action, p)) continue;
      const label = action === 'call_witness' && p.witness_state === 'excused' ? 'action.recall_witness' : `action.${action}`;
      actions.push(actionButton(label, action, p, kind));
    }
    const ruling = rulingSelect(p, { may: (a) => mayOn(a, p), send: (a, id, extra) => page.session.action(a, id, extra) });
    if (ruling) actions.push(ruling); // the judge's ruling on attendance (rulings.js)
    list.append(el('li', { class: `person state-${p.state}${self ? ' me' : ''}${p.hand_raised ? ' hand' : ''}`, dataset: { id: p.id, state: p.state } },
      el('div', { class: 'person-head' }, participantLabel(p), self ? el('span', { class: 'muted small' }, ` (${t('people.you')})`) : null),
      el('div', { class: 'badges' }, participantBadges(p)),
      actions.length ? el('div', { class: 'person-actions' }, actions) : null));
  }
  if (page.identity) page.identity.decorate(list); // identity.js: pictures, check and verdict
  const n = admittable().length;
  const all = $('#admit-all');
  all.hidden = !n;
  all.dataset.count = String(n);
  all.textContent = t('console.admit_all_n', { n });
}

function renderZoomTools() {
  const s = page.stage;
  const layout = s && s.layout;
  $('#zoom-exhibit').hidden = !(layout && layout.exhibit) || !!s.zoomed;
  $('#zoom-out').hidden = !(s && s.zoomed);
  $('#zoom-speaker').setAttribute('aria-pressed', String(!!(s && s.following)));
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
  if (!mayOn(action, p)) return;
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
  for (const p of admittable()) page.session.action('admit', p.id);
}

function admitNext() {
  const next = admittable()[0];
  if (next) page.session.action('admit', next.id);
}

async function toggleBroadcast() {
  const action = page.hearing.broadcast ? 'broadcast_off' : 'broadcast_on';
  if (!may(action)) return;
  const seconds = Math.round(page.hearing.broadcast_delay || 0);
  const ok = await confirmDialog(t(`broadcast.confirm_${action === 'broadcast_on' ? 'start' : 'stop'}`, { seconds }),
    t(action === 'broadcast_on' ? 'broadcast.start' : 'broadcast.stop'), t('common.cancel'));
  if (ok && may(action)) page.session.action(action);
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

function renderEvents() {
  const list = $('#event-list');
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
  clear(list);
  const people = (page.hearing && page.hearing.participants) || [];
  const exhibits = (page.evidence && page.evidence.exhibits) || [];
  for (const e of page.events.slice(-300)) {
    list.append(el('li', { class: 'event', dataset: { kind: e.kind, seq: e.seq } }, eventSentence(e, people, exhibits)));
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
  const status = recordStatusKey(r);
  box.dataset.status = status;
  box.append(el('p', { class: 'lead', dataset: { status } }, t(`record.status.${status}`)));
  if (r.sha256) box.append(el('p', { class: 'mono small muted break', title: t('record.sha_hint') }, t('record.digest', { sha: r.sha256 })));
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
  renderSigning(box, { hearingId: page.hearingId, token: page.token, me: page.me, record: r, reload: loadRecord });
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
  if (page.stage) page.stage.render();
  if (page.transcript) page.transcript.rerender();
  if (page.evidence) page.evidence.rerender();
  renderEvents();
  if (page.record) renderRecord();
  const node = $('#conn-banner');
  if (!node.hidden && ['reconnecting', 'offline'].includes(node.dataset.status)) node.textContent = t(`conn.${node.dataset.status}`);
}

window.addEventListener('pagehide', () => { if (page.session) page.session.stop(); if (page.devices) page.devices.stop(); });

boot();
