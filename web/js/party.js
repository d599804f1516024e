// The party's page (/join/{hearing_id}#token=...): device check, waiting room, the hearing.

import { $, $$, el, clear, showScreen, confirmDialog, setCourtZone } from './util.js';
import { api, hearingIdFromPath } from './api.js';
import { t, tMaybe, roleName, initI18n, onLanguage } from './i18n.js';
import { HearingSession, checkToken } from './session.js';
import { DeviceCheck } from './devices.js';
import { TranscriptView, segmentsOf, segmentOf } from './transcript.js';
import { EvidencePanel } from './evidence.js';
import { partyIdentity } from './identity.js';
import { Stage } from './stage.js';
import {
  COURT_ROLES, LIVE, readToken, tokenHint, HearingHeader, renderPeople, playWithSound, transcriptUrl,
} from './boot.js';
import { DisciplineGate } from './discipline.js';
import { ViewsForm } from './views.js';
import { SignaturePad } from './signature_pad.js';
import { watchOwnLink } from './network.js';

const UPLOADERS = new Set(['plaintiff', 'defendant', 'agent', 'judge', 'clerk', 'mediator']);

const page = {
  hearingId: hearingIdFromPath(),
  token: null,
  hint: null,
  hearing: null,
  me: null, // the participant, from the first answer
  state: null, // the last state message
  session: null,
  devices: null,
  header: new HearingHeader(),
  transcript: null,
  evidence: null,
  transcriptLoaded: false,
  cameraOn: true,
  notice: null,
  bannerTimer: null,
};
window.courtroomPage = page; // diagnostics (tests read the session's counters)

function goConsole() {
  location.replace(`/console/${encodeURIComponent(page.hearingId)}#token=${encodeURIComponent(page.token)}`);
}

// --- notices --------------------------------------------------------------------------------

function notice(reason, { action = null, onAction = null } = {}) {
  page.notice = { reason, action, onAction };
  const key = `notice.${reason}`;
  $('#notice-title').textContent = tMaybe(`${key}.title`) || t('notice.unknown.title');
  $('#notice-text').textContent = tMaybe(`${key}.text`) || t('notice.unknown.text');
  $('#notice-help').textContent = tMaybe(`${key}.help`) || '';
  $('#screen-notice').dataset.reason = reason;
  const button = $('#notice-action');
  button.hidden = !action;
  if (action) {
    button.textContent = t(action);
    button.onclick = onAction;
  }
  showScreen('screen-notice');
}

function noticeForCode(code) {
  const known = ['token_expired', 'removed', 'bad_token', 'forbidden', 'not_found', 'unauthorized'];
  if (code === 'network' || !code) {
    notice('network', { action: 'notice.retry', onAction: () => location.reload() });
  } else {
    notice(known.includes(code) ? code : 'bad_token');
  }
  if (page.devices) page.devices.stop();
}

// --- connection banner ------------------------------------------------------------------------

function banner(status) {
  const node = $('#conn-banner');
  clearTimeout(page.bannerTimer);
  node.dataset.status = status;
  node.className = `banner banner-${status}`;
  if (status === 'connected') {
    if (node.hidden || node.dataset.was === 'connecting') { node.hidden = true; node.dataset.was = status; return; }
    node.textContent = t('conn.reconnected');
    page.bannerTimer = setTimeout(() => { node.hidden = true; }, 4000);
  } else if (['connecting', 'reconnecting', 'offline'].includes(status)) {
    node.textContent = t(`conn.${status}`);
    node.hidden = status === 'connecting';
  } else {
    node.hidden = true;
  }
  node.dataset.was = status;
}

// --- boot -----------------------------------------------------------------------------------

async function boot() {
  initI18n();
  onLanguage(rerender);
  if (!page.hearingId) { notice('not_found'); return; }
  page.token = readToken(page.hearingId);
  if (!page.token) { notice('no_token'); return; }
  page.hint = tokenHint(page.token);
  if (COURT_ROLES.has(page.hint.role)) { goConsole(); return; }
  const check = await checkToken(page.hearingId, page.token);
  if (!check.ok) { noticeForCode(check.code); return; }
  page.hearing = check.hearing;
  page.header.update(page.hearing);
  page.me = (page.hearing.participants || []).find((p) => p.id === page.hint.participant) || null;
  if (page.me && COURT_ROLES.has(page.me.role)) { goConsole(); return; }
  if (page.hearing.state === 'closed') { closedScreen(); return; }
  showCheck();
}

function publishes() {
  return !page.me || page.me.role !== 'observer';
}

function greet() {
  const me = page.me;
  $('#check-greeting').textContent = me
    ? t('check.greeting', { name: me.name, role: roleName(me.role, me.side) })
    : t('check.greeting_anonymous');
  $('#enter-note').textContent = page.devices && page.devices.reason ? t('check.enter_without_devices') : t('check.enter_note');
}

function showCheck() {
  greet();
  showScreen('screen-check');
  page.devices = DeviceCheck.onPage({ wantVideo: publishes(), wantAudio: publishes() });
  page.devices.bind({ onTrackChange: (stream) => swapTracks(stream) });
  page.devices.addEventListener('speaker', (e) => setSpeaker(e.detail));
  page.devices.addEventListener('change', (e) => {
    const { reason } = e.detail;
    $('#retry-devices').hidden = !reason;
    $('#enter-note').textContent = reason ? t('check.enter_without_devices') : t('check.enter_note');
  });
  $('#retry-devices').onclick = () => page.devices.start();
  $('#device-controls').hidden = !publishes();
  $('#enter-button').onclick = enter;
  page.discipline = new DisciplineGate($('#discipline'), { hearingId: page.hearingId, token: page.token, button: $('#enter-button') });
  if (publishes()) page.devices.start();
}

function setSpeaker(id) {
  const video = $('#stage-video');
  if (id && typeof video.setSinkId === 'function') video.setSinkId(id).catch(() => {});
}

async function swapTracks(stream) {
  if (!page.session || !stream) return;
  await page.session.useStream(stream);
  $('#self-video').srcObject = stream;
}

// --- the session ----------------------------------------------------------------------------

async function enter() {
  $('#enter-button').disabled = true;
  if (page.discipline && !(await page.discipline.acknowledge())) return; // the discipline comes first
  if (page.devices) await page.devices.pending; // the camera may still be opening
  // Identity check-in (identity.js): after the device check, before the waiting room.
  page.identity = partyIdentity(page, { back: () => { if (page.state) decideScreen(); } });
  await page.identity.before();
  const session = new HearingSession({
    hearingId: page.hearingId,
    token: page.token,
    localStream: () => (page.devices ? page.devices.stream : null),
    publish: publishes(),
  });
  page.session = session;
  page.identity.watch(session);
  session.addEventListener('status', (e) => onStatus(e.detail.status));
  session.addEventListener('state', (e) => onState(e.detail));
  session.addEventListener('remotestream', (e) => onRemote(e.detail.stream));
  session.addEventListener('mediastate', (e) => onMediaState(e.detail.state));
  session.addEventListener('transcript', (e) => page.transcript && page.transcript.apply(segmentOf(e.detail)));
  session.addEventListener('transcript_history', (e) => page.transcript && page.transcript.load(segmentsOf(e.detail)));
  session.addEventListener('evidence', (e) => page.evidence && page.evidence.update(e.detail));
  session.addEventListener('exhibit', (e) => page.evidence && page.evidence.showing(e.detail.presenting));
  session.addEventListener('exhibit', (e) => page.views && page.views.showing(e.detail.presenting));
  session.addEventListener('record', () => refreshRecord()); // a new version: read it again
  session.addEventListener('servererror', (e) => onServerError(e.detail));
  session.addEventListener('fatal', (e) => noticeForCode(e.detail.code));
  watchOwnLink(session);
  setupHearingUi();
  lobby('connecting');
  session.start();
}

function setupHearingUi() {
  const self = $('#self-video');
  if (page.devices && page.devices.stream) {
    self.srcObject = page.devices.stream;
    self.play().catch(() => {});
  } else {
    $('#self-off').hidden = false;
  }
  page.transcript = new TranscriptView($('#transcript-list'), { captions: $('#captions') });
  page.stage = new Stage({
    stage: $('#stage'), zoom: $('#zoom'), video: $('#stage-video'), labels: $('#seat-labels'), captions: $('#captions'), foot: $('#stage-foot'),
  });
  page.stage.onZoom = (z) => { $('#zoom-out').hidden = !z; };
  $('#zoom-out').onclick = () => page.stage.zoomTo(null);
  page.evidence = new EvidencePanel($('#evidence'), {
    hearingId: page.hearingId,
    token: page.token,
    canUpload: UPLOADERS.has(page.me ? page.me.role : ''),
  });
  page.views = new ViewsForm($('#views-form'), {
    hearingId: page.hearingId, token: page.token, side: page.me ? page.me.side : null, exhibits: () => page.evidence.exhibits,
  });
  for (const tab of $$('.tab')) tab.addEventListener('click', () => selectTab(tab.dataset.tab));
  $('#mic-button').onclick = toggleMic;
  $('#cam-button').onclick = toggleCamera;
  $('#hand-button').onclick = toggleHand;
  $('#leave-button').onclick = leave;
  $('#lobby-leave').onclick = leave;
  renderControls();
}

function selectTab(id) {
  for (const tab of $$('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.tab === id));
  for (const panel of $$('.tabpanel')) panel.hidden = panel.id !== id;
}

function onStatus(status) {
  banner(status);
  if (status === 'replaced') {
    notice('replaced', { action: 'notice.replaced.action', onAction: () => { page.session.takeOver(); lobby('connecting'); } });
  } else if (status === 'removed') {
    notice('removed');
    page.devices && page.devices.stop();
  } else if (status === 'expired') {
    noticeForCode('token_expired');
  } else if (status === 'invalid') {
    noticeForCode('bad_token');
  } else if (status === 'reconnecting' || status === 'offline') {
    const overlay = $('#stage-overlay');
    overlay.textContent = t(`conn.${status}`);
    overlay.hidden = false;
  }
}

function onServerError(message) {
  if (['replaced', 'removed'].includes(message.code)) return;
  if (message.code === 'not_live') return; // the next state brings media
  const text = tMaybe(`error.${message.code}`) || message.message;
  const node = $('#conn-banner');
  node.hidden = false;
  node.className = 'banner banner-error';
  node.dataset.status = 'error';
  node.textContent = text;
  clearTimeout(page.bannerTimer);
  page.bannerTimer = setTimeout(() => { node.hidden = true; }, 6000);
}

function onState(message) {
  page.state = message;
  page.hearing = message.hearing;
  setCourtZone(message.hearing && message.hearing.time_zone);
  page.me = message.you;
  page.header.update(message.hearing);
  if (COURT_ROLES.has(message.you.role)) { page.session.stop(); goConsole(); return; }
  renderPeople($('#people-list'), message.hearing.participants || [], message.you.id);
  renderControls();
  decideScreen();
  if (page.stage) page.stage.update(message.layout, message.hearing.participants);
  $('#zoom-out').hidden = !(page.stage && page.stage.zoomed);
}

function decideScreen() {
  if (page.identity && page.identity.active) return; // the check-in screen stays until sent
  const { hearing, you, receives_media: receives } = page.state;
  const witness = you.role === 'witness';
  if (hearing.state === 'closed') {
    page.session.stop();
    page.devices && page.devices.stop();
    closedScreen();
    return;
  }
  if (you.state === 'left') { leftNotice(); return; }
  if (you.state === 'removed') { notice('removed'); return; }
  if (witness && you.state === 'admitted' && you.witness_state === 'excused') { lobby('witness_excused'); return; }
  if (witness && you.witness_state !== 'testifying') { lobby('witness_isolated'); return; }
  if (receives) { hearingScreen(); return; }
  if (!LIVE.has(hearing.state)) { lobby('not_open'); return; }
  lobby('waiting');
}

function lobby(kind) {
  const me = page.me;
  const h = page.hearing;
  $('#lobby').dataset.kind = kind;
  $('#lobby-title').textContent = t(`lobby.${kind}.title`);
  $('#lobby-text').textContent = t(`lobby.${kind}.text`);
  $('#lobby-you').textContent = me ? `${roleName(me.role, me.side)} ${me.name}` : '';
  $('#lobby-hearing').textContent = h ? [h.case_number, h.title !== h.case_number ? h.title : ''].filter(Boolean).join(' ') : '';
  $('#lobby-court').textContent = h ? h.court : '';
  $('#lobby-status').textContent = h ? t(`hearing_state.${h.state}`) : '';
  const steps = $('#lobby-steps');
  clear(steps);
  const list = t(`lobby.${kind}.steps`);
  if (list && list !== `lobby.${kind}.steps`) for (const step of list.split('|')) steps.append(el('li', {}, step));
  $('#lobby-leave').hidden = kind === 'connecting' || kind === 'not_open';
  showScreen('screen-lobby');
}

function leftNotice() {
  notice('left', { action: 'notice.left.action', onAction: () => { page.session.start(); lobby('connecting'); } });
}

function hearingScreen() {
  if (page.identity && page.identity.active) return; // media events wait while a re-check is on screen
  const first = document.body.dataset.screen !== 'screen-hearing';
  showScreen('screen-hearing');
  if (first && page.stage) page.stage.render(); // sizes are known only once it shows
  const overlay = $('#stage-overlay');
  const state = page.hearing.state;
  const session = page.session;
  if (session.status !== 'connected') {
    overlay.textContent = t(`conn.${session.status}`);
    overlay.hidden = false;
  } else if (state === 'recess') {
    overlay.textContent = t('hearing.recess_overlay');
    overlay.hidden = false;
  } else if (state === 'open') {
    overlay.textContent = t('hearing.open_overlay');
    overlay.hidden = false;
  } else if (!$('#stage-video').srcObject || $('#stage-video').readyState < 2) {
    overlay.textContent = t('hearing.connecting_media');
    overlay.hidden = false;
  } else {
    overlay.hidden = true;
  }
  if (first) {
    if (!page.transcriptLoaded) loadTranscript();
    page.evidence.load();
  }
}

async function loadTranscript() {
  page.transcriptLoaded = true;
  const reply = await api(transcriptUrl(page.hearingId), { token: page.token });
  if (reply.ok) page.transcript.load(segmentsOf(reply.data));
}

function onRemote(stream) {
  const video = $('#stage-video');
  if (video.srcObject !== stream) video.srcObject = stream;
  playWithSound(video, $('#unmute-speaker'));
  video.onplaying = () => { if (page.state) hearingScreen(); };
  video.onloadeddata = video.onplaying;
}

function onMediaState(state) {
  document.body.dataset.media = state;
  if (state === 'connected' && page.state && page.state.receives_media) hearingScreen();
}

// --- after closing: the record to confirm ----------------------------------------------------

const CONFIRMERS = new Set(['plaintiff', 'defendant', 'agent']);

async function closedScreen() {
  const me = page.me;
  if (!me || !CONFIRMERS.has(me.role)) { notice('closed'); return; }
  if (document.body.dataset.screen === 'screen-record') return;
  const base = `/api/hearings/${encodeURIComponent(page.hearingId)}`;
  const [text, status] = await Promise.all([
    api(`${base}/transcript?format=txt`, { token: page.token }),
    api(`${base}/record`, { token: page.token }),
  ]);
  if (!text.ok || !status.ok) { notice('closed'); return; } // nothing to confirm here (yet)
  $('#record-text').textContent = typeof text.data === 'string' ? text.data : '';
  page.recordVersion = status.data.version; // a decision names the version it is about
  showScreen('screen-record');
  showDecision(status.data);
  if (!page.signaturePad) page.signaturePad = new SignaturePad($('#signature-box'));
  $('#confirm-button').onclick = () => decide('confirm');
  $('#object-button').onclick = () => decide('object');
}

// The record moved on (a correction made a new version, the court signed): show it as it is now.
async function refreshRecord() {
  if (document.body.dataset.screen !== 'screen-record') return;
  const base = `/api/hearings/${encodeURIComponent(page.hearingId)}`;
  const [text, status] = await Promise.all([
    api(`${base}/transcript?format=txt`, { token: page.token }),
    api(`${base}/record`, { token: page.token }),
  ]);
  if (!text.ok || !status.ok) return;
  $('#record-text').textContent = typeof text.data === 'string' ? text.data : '';
  page.recordVersion = status.data.version;
  showDecision(status.data);
}

function showDecision(record) {
  const mine = (record.confirmations || []).find((c) => c.participant === page.me.id);
  const box = $('#record-decided');
  box.hidden = !mine;
  $('#confirm-form').hidden = !!mine;
  if (mine) {
    box.dataset.decision = mine.decision;
    box.className = `notice ${mine.decision === 'confirm' ? 'notice-info' : 'notice-warn'}`;
    box.textContent = t(`confirm.done.${mine.decision}`, { objection: mine.objection || '' });
  }
}

async function decide(decision) {
  const objection = $('#confirm-form textarea').value.replace(/\s+/g, ' ').trim();
  const error = $('#confirm-error');
  if (decision === 'object' && !objection) { error.hidden = false; error.textContent = t('confirm.need_objection'); return; }
  const body = decision === 'object' ? { decision, objection } : { decision };
  if (page.recordVersion) body.version = page.recordVersion;
  const drawn = page.signaturePad && page.signaturePad.image();
  if (drawn) body.signature_image = drawn; // an optional handwritten signature
  const reply = await api(`/api/hearings/${encodeURIComponent(page.hearingId)}/record/confirm`, { method: 'POST', token: page.token, json: body });
  if (!reply.ok) {
    error.hidden = false;
    error.textContent = tMaybe(`error.${reply.error}`) || reply.message;
    if (reply.error === 'stale_version') { // a newer version: show it, then the party decides again
      const text = await api(`/api/hearings/${encodeURIComponent(page.hearingId)}/transcript?format=txt`, { token: page.token });
      if (text.ok && typeof text.data === 'string') $('#record-text').textContent = text.data;
      page.recordVersion = reply.data && reply.data.latest;
    }
    return;
  }
  error.hidden = true;
  showDecision(reply.data.record);
}

// --- controls -------------------------------------------------------------------------------

function renderControls() {
  const you = page.me || {};
  const selfMuted = !!you.self_muted;
  const mic = $('#mic-button');
  mic.setAttribute('aria-pressed', String(selfMuted));
  mic.querySelector('.lbl').textContent = t(selfMuted ? 'hearing.unmute' : 'hearing.mute');
  mic.classList.toggle('off', selfMuted);
  mic.disabled = !publishes() || !(page.devices && page.devices.stream && page.devices.stream.getAudioTracks().length);
  const cam = $('#cam-button');
  cam.setAttribute('aria-pressed', String(!page.cameraOn));
  cam.querySelector('.lbl').textContent = t(page.cameraOn ? 'hearing.camera_off' : 'hearing.camera_on');
  cam.classList.toggle('off', !page.cameraOn);
  cam.disabled = !(page.devices && page.devices.stream && page.devices.stream.getVideoTracks().length);
  const hand = $('#hand-button');
  hand.setAttribute('aria-pressed', String(!!you.hand_raised));
  hand.querySelector('.lbl').textContent = t(you.hand_raised ? 'hearing.lower_hand' : 'hearing.raise_hand');
  hand.classList.toggle('on', !!you.hand_raised);
  $('#court-muted').hidden = !you.muted;
  $('#self-off').hidden = page.cameraOn && !!(page.devices && page.devices.stream && page.devices.stream.getVideoTracks().length);
  // Our own microphone follows our own mute at once, before the server confirms.
  if (page.devices) page.devices.setMicrophone(!selfMuted);
}

function toggleMic() {
  const muted = !!(page.me && page.me.self_muted);
  page.devices && page.devices.setMicrophone(muted);
  page.session.action(muted ? 'self_unmute' : 'self_mute');
}

function toggleCamera() {
  page.cameraOn = !page.cameraOn;
  page.devices && page.devices.setCamera(page.cameraOn);
  renderControls();
}

function toggleHand() {
  page.session.action(page.me && page.me.hand_raised ? 'lower_hand' : 'raise_hand');
}

async function leave() {
  const ok = await confirmDialog(t('hearing.leave_confirm'), t('hearing.leave'), t('common.cancel'));
  if (!ok) return;
  page.session.leave();
  leftNotice();
}

function rerender() {
  page.header.render();
  if (page.transcript) page.transcript.rerender();
  if (page.evidence) page.evidence.rerender();
  const screen = document.body.dataset.screen;
  if (page.state) {
    renderPeople($('#people-list'), page.state.hearing.participants || [], page.state.you.id);
    renderControls();
  }
  if (screen === 'screen-notice' && page.notice) {
    notice(page.notice.reason, page.notice);
  } else if (screen === 'screen-check') {
    greet();
    if (page.devices) page.devices._render();
  } else if (screen === 'screen-lobby') {
    lobby($('#lobby').dataset.kind);
  } else if (screen === 'screen-hearing') {
    hearingScreen();
  } else if (screen === 'screen-record' && !$('#record-decided').hidden) {
    const box = $('#record-decided');
    box.textContent = t(`confirm.done.${box.dataset.decision}`, { objection: '' });
  }
  const node = $('#conn-banner');
  if (!node.hidden && ['reconnecting', 'offline'].includes(node.dataset.status)) node.textContent = t(`conn.${node.dataset.status}`);
}

window.addEventListener('pagehide', () => { if (page.session) page.session.stop(); if (page.devices) page.devices.stop(); });

boot();
