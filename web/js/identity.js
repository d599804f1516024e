// Identity at join (docs/identity.md).
//
// The party's side (`CheckIn`): after the device check and before the waiting room, a still
// from the live camera (drawn on a canvas from the preview: never a file picker for the face)
// and, optionally, the ID document's photo page (photographed the same way, or uploaded), sent
// to POST /api/hearings/{id}/check-in. The judge may ask for it again mid-hearing.
//
// The officers' side (`IdentityDesk`): beside each person of the console, the snapshot, the ID
// picture, the registered identity, the face check's result, and the verdict buttons
// (`verify_identity`, `recheck_identity`). Images are fetched with the officer's token into
// object URLs; they never sit behind a public address.

import { $, el, clear, showScreen, toast, wallTime } from './util.js';
import { api, blobUrl } from './api.js';
import { t, tMaybe, roleName } from './i18n.js';

const DEVICE_KEY = 'courtroom.device';
const OFFICERS = new Set(['judge', 'clerk', 'mediator']);

function loadStyles() {
  if (document.querySelector('link[data-identity]')) return;
  document.head.append(el('link', { rel: 'stylesheet', href: '/static/css/identity.css', dataset: { identity: '1' } }));
}

/** This browser's own random id: a reconnect from another device is flagged to the officers. */
export function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return '';
  }
}

function base(hearingId) {
  return `/api/hearings/${encodeURIComponent(hearingId)}`;
}

/** A JPEG still of what a <video> shows now, at its own resolution. */
function still(video) {
  if (!video || !video.videoWidth) return Promise.resolve(null);
  const canvas = el('canvas', { width: video.videoWidth, height: video.videoHeight });
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob), 'image/jpeg', 0.9));
}

// --- the party ---------------------------------------------------------------------------------

export class CheckIn {
  /**
   * @param {object} opts {hearingId, token, stream: () => MediaStream|null}
   */
  constructor({ hearingId, token, stream }) {
    this.hearingId = hearingId;
    this.token = token;
    this.stream = stream;
    this.active = false;
    this.status = null;
    this.snapshot = null;
    this.document = null;
    this.urls = [];
    loadStyles();
  }

  /** Tell the server which device joins (once per page load). */
  async announceDevice() {
    const device = deviceId();
    if (device) await api(`${base(this.hearingId)}/identity/device`, { method: 'POST', token: this.token, json: { device } });
  }

  async fetchStatus() {
    const reply = await api(`${base(this.hearingId)}/identity`, { token: this.token });
    this.status = reply.ok && reply.data && reply.data.you ? reply.data.you : null;
    return this.status;
  }

  needed(status = this.status) {
    return !!status && status.required && (status.state === 'not_checked_in' || status.state === 'recheck_requested');
  }

  /** Show the check-in screen; resolves when it is sent or skipped. */
  run({ recheck = false } = {}) {
    if (this.active) return this.done;
    this.active = true;
    this.done = new Promise((resolve) => { this._resolve = resolve; });
    this._build(recheck);
    showScreen('screen-identity');
    return this.done;
  }

  _finish() {
    this.active = false;
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.snapshot = this.document = null;
    const resolve = this._resolve;
    this._resolve = null;
    if (resolve) resolve();
  }

  _screen() {
    let section = $('#screen-identity');
    if (!section) {
      section = el('section', { id: 'screen-identity', class: 'screen', hidden: true });
      $('main').append(section);
    }
    return clear(section);
  }

  _build(recheck) {
    const section = this._screen();
    const stream = this.stream();
    const hasVideo = !!(stream && stream.getVideoTracks().some((tr) => tr.readyState === 'live'));
    const card = el('div', { class: 'card wide identity-card' });
    section.append(card);
    card.append(el('h1', {}, t('identity.title')));
    if (recheck) card.append(el('p', { class: 'notice notice-warn', id: 'identity-recheck' }, t('identity.recheck')));
    const message = el('div', { id: 'identity-message', class: 'notice', hidden: true, role: 'status' });
    if (!hasVideo) {
      card.append(el('p', { class: 'notice notice-warn', id: 'identity-no-camera' }, t('identity.no_camera')));
      card.append(el('div', { class: 'row end' },
        el('button', { type: 'button', id: 'identity-skip', class: 'btn btn-primary', onclick: () => this._finish() }, t('identity.continue'))));
      return;
    }
    card.append(el('p', { class: 'lead' }, t('identity.intro')));
    const video = el('video', { id: 'identity-preview', autoplay: true, playsinline: true, muted: true });
    video.muted = true;
    video.srcObject = stream;
    video.play().catch(() => {});
    const shot = el('img', { id: 'identity-snapshot', alt: t('identity.snapshot_alt'), hidden: true });
    const doc = el('img', { id: 'identity-document', alt: t('identity.document_alt'), hidden: true });
    // The camera buttons wait for the first frame: a click before it would take nothing.
    const take = el('button', { type: 'button', id: 'identity-take', class: 'btn', disabled: true }, t('identity.take'));
    const takeDoc = el('button', { type: 'button', id: 'identity-take-document', class: 'btn', disabled: true }, t('identity.take_document'));
    const ready = () => { if (video.videoWidth) { take.disabled = false; takeDoc.disabled = false; } };
    video.addEventListener('loadeddata', ready);
    video.addEventListener('resize', ready);
    const file = el('input', { type: 'file', id: 'identity-upload', accept: 'image/jpeg,image/png,image/webp' });
    const send = el('button', { type: 'button', id: 'identity-send', class: 'btn btn-primary', disabled: true }, t('identity.send'));
    const show = (img, blob) => {
      const url = URL.createObjectURL(blob);
      this.urls.push(url);
      img.src = url;
      img.hidden = false;
    };
    take.onclick = async () => {
      const blob = await still(video);
      if (!blob) return;
      this.snapshot = blob;
      show(shot, blob);
      take.textContent = t('identity.retake');
      send.disabled = false;
    };
    takeDoc.onclick = async () => {
      const blob = await still(video);
      if (blob) { this.document = blob; show(doc, blob); }
    };
    file.onchange = () => {
      const chosen = file.files && file.files[0];
      if (chosen) { this.document = chosen; show(doc, chosen); }
    };
    send.onclick = () => this._send(send, message);
    card.append(
      el('div', { class: 'identity-grid' },
        el('div', { class: 'preview-box' }, video),
        el('div', { class: 'identity-shots' }, shot, doc)),
      el('div', { class: 'row wrap' }, take),
      el('p', { class: 'muted small' }, t('identity.document_intro')),
      el('div', { class: 'row wrap' }, takeDoc, el('label', { class: 'field' }, el('span', {}, t('identity.upload_document')), file)),
      message,
      el('div', { class: 'row end' },
        el('button', { type: 'button', id: 'identity-skip', class: 'btn', onclick: () => this._finish() }, t('identity.continue_without')),
        send));
  }

  async _send(button, message) {
    if (!this.snapshot) return;
    button.disabled = true;
    button.textContent = t('identity.sending');
    const form = new FormData();
    form.append('snapshot', this.snapshot, 'snapshot.jpg');
    if (this.document) form.append('document', this.document, this.document.name || 'document.jpg');
    const device = deviceId();
    if (device) form.append('device', device);
    const reply = await api(`${base(this.hearingId)}/check-in`, { method: 'POST', token: this.token, form });
    button.textContent = t('identity.send');
    message.hidden = false;
    if (!reply.ok) {
      button.disabled = false;
      message.className = 'notice notice-error';
      message.dataset.result = 'error';
      message.textContent = t('identity.failed', { message: reply.message });
      return;
    }
    if (reply.data.retry) {
      // No face, several faces, too far: say what to do, and let them take it again.
      button.disabled = false;
      message.className = 'notice notice-warn';
      message.dataset.result = 'retry';
      message.textContent = reply.data.message;
      return;
    }
    message.className = 'notice notice-info';
    message.dataset.result = 'sent';
    message.textContent = reply.data.message ? `${t('identity.sent')} ${reply.data.message}` : t('identity.sent');
    setTimeout(() => this._finish(), 1200);
  }
}

/**
 * Wire the check-in into the party's page: before the waiting room (`before`), and whenever the
 * judge asks again (an `identity` message with recheck). `back()` returns to the page's screen.
 */
export function partyIdentity(page, { back }) {
  const checkIn = new CheckIn({
    hearingId: page.hearingId,
    token: page.token,
    stream: () => (page.devices ? page.devices.stream : null),
  });
  return {
    checkIn,
    get active() { return checkIn.active; },
    async before() {
      checkIn.announceDevice();
      const status = await checkIn.fetchStatus();
      if (checkIn.needed(status)) await checkIn.run({ recheck: status.state === 'recheck_requested' });
    },
    watch(session) {
      session.addEventListener('identity', async (e) => {
        const you = e.detail && e.detail.you;
        if (!you) return;
        checkIn.status = you;
        if (you.recheck && !checkIn.active) {
          await checkIn.run({ recheck: true });
          back();
        }
      });
    },
  };
}

// --- the officers ------------------------------------------------------------------------------

export class IdentityDesk {
  /**
   * @param {object} opts {hearingId, token, session, may: (action, participantId) => bool (the server's
   *   participant_actions), people: () => participants, onChange}
   */
  constructor({ hearingId, token, session, may, people, onChange }) {
    this.hearingId = hearingId;
    this.token = token;
    this.may = may;
    this.people = people;
    this.onChange = onChange || (() => {});
    this.statuses = new Map();
    this.images = new Map(); // "checkId/which" -> object URL (fetched once)
    loadStyles();
    session.addEventListener('identity', (e) => {
      if (Array.isArray(e.detail.participants)) this._update(e.detail.participants);
    });
    this.load();
  }

  async load() {
    const reply = await api(`${base(this.hearingId)}/identity`, { token: this.token });
    if (reply.ok && Array.isArray(reply.data.participants)) this._update(reply.data.participants);
  }

  _update(list) {
    this.statuses = new Map(list.map((s) => [s.participant, s]));
    this.onChange();
  }

  /** Add the identity box to each person of the console's list (`li[data-id]`). Whoever must
   * be verified first gets no admit button: the server does not offer it (courtroom/controls.py). */
  decorate(list) {
    const roles = new Map((this.people() || []).map((p) => [p.id, p.role]));
    for (const li of list.querySelectorAll('li[data-id]')) {
      const status = this.statuses.get(li.dataset.id);
      const role = roles.get(li.dataset.id);
      if (!status || !role || OFFICERS.has(role)) continue;
      const box = this._box(status);
      if (box) li.append(box);
    }
  }

  _image(status, which) {
    const check = status.check;
    const img = el('img', { class: `identity-img identity-${which}`, alt: t(`identity.${which === 'snapshot' ? 'snapshot_alt' : 'document_alt'}`) });
    const key = `${check.id}/${which}`;
    const known = this.images.get(key);
    if (known) { img.src = known; return img; }
    blobUrl(`${base(this.hearingId)}/identity/${encodeURIComponent(status.participant)}/${which}`, this.token).then((url) => {
      if (!url) return;
      this.images.set(key, url);
      img.src = url;
    });
    return img;
  }

  _faceLines(check) {
    const r = check.result || {};
    const lines = [];
    if (!r.available) { lines.push(t('identity.face.not_available')); return lines; }
    lines.push(t('identity.face.faces', { n: r.faces }));
    if (typeof r.distance === 'number') {
      lines.push(t(r.match ? 'identity.face.match' : 'identity.face.differ', { distance: r.distance.toFixed(2), threshold: r.threshold }));
    }
    const reasons = (r.reasons || []).filter((x) => x !== 'faces_differ').map((x) => tMaybe(`identity.reason.${x}`) || x);
    if (reasons.length) lines.push(reasons.join('、'));
    return lines;
  }

  _who(id) {
    if (id === 'clerk') return t('role.clerk');
    const p = (this.people() || []).find((q) => q.id === id);
    return p ? `${roleName(p.role, p.side)} ${p.name}` : id || '';
  }

  _box(status) {
    if (!status.required && !status.check && !status.registered && status.state === 'not_checked_in') {
      // Nobody registered, no check-in: only the judge's "ask to check in", kept small.
      const box = el('div', { class: 'identity-box identity-compact', dataset: { participant: status.participant, state: status.state } });
      if (this.may('recheck_identity', status.participant)) {
        box.append(el('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'recheck_identity', participant: status.participant },
          onclick: () => this._act({ action: 'recheck_identity', participant: status.participant }) }, t('identity.recheck_button')));
      }
      return box.childNodes.length ? box : null;
    }
    const box = el('div', { class: 'identity-box', dataset: { participant: status.participant, state: status.state } });
    const kind = status.state === 'verified' ? 'badge-ok' : status.state === 'not_verified' ? 'badge-warn' : 'badge-muted';
    box.append(el('div', { class: 'row wrap' },
      el('span', { class: `badge ${kind} identity-state` }, t(`identity.state.${status.state}`)),
      status.new_device ? el('span', { class: 'badge badge-warn identity-new-device' }, t('identity.new_device')) : null));
    const reg = status.registered;
    box.append(el('div', { class: 'small identity-registered' }, reg
      ? t('identity.registered', { name: reg.name, id_type: tMaybe(`identity.id_type.${reg.id_type}`) || reg.id_type_zh || reg.id_type, last4: reg.id_last4 })
      : t('identity.unregistered')));
    const check = status.check;
    if (check) {
      if (check.images_deleted) box.append(el('div', { class: 'small muted' }, t('identity.images_deleted')));
      else box.append(el('div', { class: 'identity-images' }, this._image(status, 'snapshot'), check.document_sha256 ? this._image(status, 'document') : null));
      box.append(el('div', { class: 'small identity-face' }, this._faceLines(check).map((line) => el('div', {}, line))));
    }
    if (status.problem) box.append(el('div', { class: 'small notice-warn' }, t('identity.problem', { message: status.problem })));
    if (status.verified_at) {
      box.append(el('div', { class: 'small muted identity-verdict' },
        t('identity.verified_by', { who: this._who(status.verified_by), time: wallTime(status.verified_at, true) }),
        status.reason ? ` · ${status.reason}` : ''));
    }
    const buttons = el('div', { class: 'person-actions' });
    if (this.may('verify_identity', status.participant)) {
      buttons.append(el('button', { type: 'button', class: 'btn btn-small btn-primary', dataset: { action: 'verify_identity', participant: status.participant },
        onclick: () => this._verdict(status.participant, true, '') }, t('identity.verify')));
      const reason = el('input', { type: 'text', maxlength: '500', class: 'identity-reason', placeholder: t('identity.reject_reason'), 'aria-label': t('identity.reject_reason') });
      buttons.append(reason, el('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'reject_identity', participant: status.participant },
        onclick: () => this._verdict(status.participant, false, reason.value.trim(), reason) }, t('identity.reject')));
    }
    if (this.may('recheck_identity', status.participant)) {
      buttons.append(el('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'recheck_identity', participant: status.participant },
        onclick: () => this._act({ action: 'recheck_identity', participant: status.participant }) }, t('identity.recheck_button')));
    }
    if (buttons.childNodes.length) box.append(buttons);
    return box;
  }

  async _verdict(participant, verified, reason, input = null) {
    if (!verified && !reason) {
      toast(t('identity.reject_reason'), 'error');
      if (input) input.focus();
      return;
    }
    await this._act({ action: 'verify_identity', participant, verified, reason });
  }

  async _act(body) {
    const reply = await api(`${base(this.hearingId)}/actions`, { method: 'POST', token: this.token, json: body });
    if (!reply.ok) toast(tMaybe(`error.${reply.error}`) || reply.message, 'error', 6000);
  }
}

// --- the clerk's desk --------------------------------------------------------------------------

const ID_TYPES = ['resident_id', 'passport', 'hk_macau_permit', 'taiwan_permit', 'foreign_permanent_residence', 'other'];

/** Add "ID type" and "last four of the ID number" to the desk's participant form. */
export function identityFields(form) {
  if (!form || form.querySelector('[name=id_type]')) return;
  // data-i18n: the page's language switch translates these too.
  const type = el('select', { name: 'id_type' }, el('option', { value: '', 'data-i18n': 'identity.no_id' }, t('identity.no_id')),
    ID_TYPES.map((id) => el('option', { value: id, 'data-i18n': `identity.id_type.${id}` }, t(`identity.id_type.${id}`))));
  const last4 = el('input', { type: 'text', name: 'id_last4', maxlength: '4', pattern: '[0-9A-Za-z]{4}', autocomplete: 'off', size: '5' });
  const submit = form.querySelector('button[type=submit]');
  form.insertBefore(el('label', { class: 'field' }, el('span', { 'data-i18n': 'identity.id_type_label' }, t('identity.id_type_label')), type), submit);
  form.insertBefore(el('label', { class: 'field' }, el('span', { 'data-i18n': 'identity.id_last4_label' }, t('identity.id_last4_label')), last4), submit);
}

/** The `identity` of the participant to add, or null when no ID type is chosen. */
export function identityOf(form) {
  const type = form.querySelector('[name=id_type]');
  const last4 = form.querySelector('[name=id_last4]');
  if (!type || !type.value) return null;
  return { id_type: type.value, id_last4: (last4 ? last4.value : '').trim() };
}

export function clearIdentity(form) {
  const last4 = form.querySelector('[name=id_last4]');
  if (last4) last4.value = '';
}
