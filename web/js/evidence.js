// Exhibits: the list (numbered per side by the server: 原告证据1 ...), upload (multipart field
// `file`, optional `label`), viewing a file, presenting a page in the courtroom picture and
// withdrawing it (the bench).

import { api, upload, blobUrl } from './api.js';
import { el, clear, bytes, wallTime, toast } from './util.js';
import { t, tMaybe } from './i18n.js';

export function exhibitsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.exhibits)) return data.exhibits;
  return [];
}

export class EvidencePanel {
  /**
   * @param {HTMLElement} root  contains .evidence-list, form.evidence-upload, .evidence-status
   */
  constructor(root, { hearingId, token, canUpload = true, canPresent = false }) {
    this.root = root;
    this.hearingId = hearingId;
    this.token = token;
    this.canUpload = canUpload;
    this.canPresent = canPresent;
    this.exhibits = [];
    this.available = null; // false: the server has no evidence routes
    this.presenting = null; // {exhibit, label, page, pages, by, since}
    this.list = root.querySelector('.evidence-list');
    this.status = root.querySelector('.evidence-status');
    this.form = root.querySelector('form.evidence-upload');
    if (this.form) {
      this.form.hidden = !canUpload;
      this.form.addEventListener('submit', (e) => { e.preventDefault(); this._upload(); });
    }
    this.render();
  }

  get base() {
    return `/api/hearings/${encodeURIComponent(this.hearingId)}/evidence`;
  }

  async load() {
    const reply = await api(this.base, { token: this.token });
    if (reply.ok) {
      this.available = true;
      this.exhibits = exhibitsOf(reply.data);
      if (reply.data && 'presenting' in reply.data) this.presenting = reply.data.presenting;
    } else if (reply.status === 404 || reply.status === 405) {
      this.available = false;
    } else if (reply.status !== 403) { // 403: not ours to see yet (a waiting witness)
      this._say(t('evidence.load_failed', { message: tMaybe(`error.${reply.error}`) || reply.message }), 'error');
    }
    this.render();
  }

  /** {"type": "evidence", "exhibits": [...]} */
  update(message) {
    this.available = true;
    if (Array.isArray(message.exhibits)) this.exhibits = message.exhibits;
    this.render();
  }

  /** {"type": "exhibit", "presenting": {...} | null} */
  showing(presenting) {
    this.presenting = presenting || null;
    this.render();
  }

  _say(text, kind = 'info') {
    if (!this.status) return;
    this.status.hidden = !text;
    this.status.className = `evidence-status notice notice-${kind === 'error' ? 'error' : 'info'}`;
    this.status.textContent = text || '';
  }

  render() {
    if (!this.list) return;
    clear(this.list);
    if (this.available === false) this._say(t('evidence.unavailable'), 'info');
    if (this.presenting) {
      const p = this.presenting;
      this.list.append(el('li', { class: 'presenting-now notice notice-warn', dataset: { exhibit: p.exhibit } },
        t('evidence.now_presenting', { label: p.label, page: p.page, pages: p.pages }),
        this.canPresent ? el('button', { type: 'button', class: 'btn btn-small', onclick: () => this.withdraw() }, t('evidence.withdraw')) : null));
    }
    if (!this.exhibits.length) {
      this.list.append(el('li', { class: 'empty muted' }, t('evidence.empty')));
      return;
    }
    for (const x of this.exhibits) {
      const meta = [x.filename, Number.isFinite(x.size) ? bytes(x.size) : null,
        x.pages > 1 ? t('evidence.pages', { n: x.pages }) : null, x.created_at ? wallTime(x.created_at) : null]
        .filter(Boolean).join(' · ');
      const presentable = this.canPresent && x.presentable !== false;
      const pageInput = presentable && x.pages > 1
        ? el('input', { type: 'number', min: 1, max: x.pages, value: 1, class: 'page-input', 'aria-label': t('evidence.page') })
        : null;
      const current = this.presenting && this.presenting.exhibit === x.id;
      this.list.append(el('li', { class: `exhibit${current ? ' presenting' : ''}`, dataset: { id: x.id } },
        el('div', { class: 'exhibit-main' },
          el('strong', {}, x.label || x.filename || x.id),
          meta ? el('div', { class: 'muted small' }, meta) : null,
          x.sha256 ? el('div', { class: 'mono small muted', title: x.sha256 }, `SHA-256 ${String(x.sha256).slice(0, 16)}…`) : null),
        el('div', { class: 'exhibit-actions' },
          el('button', { type: 'button', class: 'btn btn-small', onclick: () => this.view(x) }, t('evidence.view')),
          pageInput,
          presentable ? el('button', {
            type: 'button', class: 'btn btn-small btn-primary', dataset: { present: x.id },
            onclick: () => this.present(x, pageInput ? Number(pageInput.value) || 1 : 1),
          }, t('evidence.present')) : null)));
    }
  }

  async view(x) {
    const url = await blobUrl(`${this.base}/${encodeURIComponent(x.id)}/file`, this.token);
    if (!url) { toast(t('evidence.view_failed'), 'error'); return; }
    const a = el('a', { href: url, target: '_blank', rel: 'noopener', download: x.filename || undefined });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async present(x, page) {
    const reply = await api(`${this.base}/${encodeURIComponent(x.id)}/present`, { method: 'POST', token: this.token, json: { page } });
    if (reply.ok) {
      this.showing(reply.data.presenting);
      toast(t('evidence.presented', { label: x.label, page }), 'ok');
    } else {
      toast(reply.status === 404 ? t('evidence.present_unavailable') : (tMaybe(`error.${reply.error}`) || reply.message), 'error');
    }
  }

  async withdraw() {
    const reply = await api(`${this.base}/withdraw`, { method: 'POST', token: this.token });
    if (reply.ok) this.showing(null);
    else toast(tMaybe(`error.${reply.error}`) || reply.message, 'error');
  }

  async _upload() {
    const input = this.form.querySelector('input[type=file]');
    const file = input && input.files && input.files[0];
    if (!file) { this._say(t('evidence.choose_file'), 'error'); return; }
    const form = new FormData();
    const label = this.form.querySelector('input[name=label]');
    if (label && label.value.trim()) form.append('label', label.value.trim());
    form.append('file', file, file.name);
    const bar = this.form.querySelector('progress');
    const button = this.form.querySelector('button[type=submit]');
    if (bar) { bar.hidden = false; bar.value = 0; }
    button.disabled = true;
    const reply = await upload(this.base, { token: this.token, form, onProgress: (p) => { if (bar) bar.value = p; } });
    button.disabled = false;
    if (bar) bar.hidden = true;
    if (reply.ok) {
      this.available = true;
      const exhibit = reply.data;
      if (exhibit && exhibit.id && !this.exhibits.some((x) => x.id === exhibit.id)) this.exhibits.push(exhibit);
      this.form.reset();
      this._say(t('evidence.uploaded', { label: (exhibit && exhibit.label) || file.name }), 'info');
      // A passing confirmation, not a state: it must not still say "filed" after a recess.
      clearTimeout(this._sayTimer);
      this._sayTimer = setTimeout(() => this._say(''), 6000);
      this.render();
    } else if (reply.status === 404 || reply.status === 405) {
      this.available = false;
      this._say(t('evidence.unavailable'), 'error');
    } else if (reply.error === 'duplicate' && reply.data && reply.data.exhibit) {
      this._say(t('evidence.duplicate', { label: reply.data.exhibit.label }), 'error');
    } else {
      this._say(tMaybe(`evidence.error.${reply.error}`) || tMaybe(`error.${reply.error}`) || reply.message || t('evidence.upload_failed'), 'error');
    }
  }

  rerender() { this.render(); }
}
