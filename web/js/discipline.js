// The court discipline (庭审纪律) shown at join, and for a witness the undertaking (保证书):
// the enter button stays disabled until each is ticked, and entering first records the
// acknowledgement on the server (an event, and a line of the record). docs/record.md.

import { el, clear } from './util.js';
import { api } from './api.js';
import { t } from './i18n.js';

export class DisciplineGate {
  constructor(box, { hearingId, token, button }) {
    this.box = box;
    this.base = `/api/hearings/${encodeURIComponent(hearingId)}/discipline`;
    this.token = token;
    this.button = button;
    this.required = [];
    this.done = new Set();
    this.ready = this.load();
  }

  async load() {
    const reply = await api(this.base, { token: this.token });
    this.box.dataset.ready = '1';
    if (!reply.ok) { this.box.hidden = true; return; } // an older server: nothing to acknowledge
    const d = reply.data || {};
    this.required = Array.isArray(d.required) ? d.required : [];
    for (const k of (Array.isArray(d.acknowledged) ? d.acknowledged : [])) this.done.add(k);
    clear(this.box);
    for (const kind of this.required) {
      const box = el('input', { type: 'checkbox', id: `${kind}-ack`, onchange: () => this.sync() });
      if (this.done.has(kind)) box.checked = true;
      this.box.append(
        el('pre', { class: 'discipline-text', dataset: { kind } }, kind === 'undertaking' ? d.undertaking : d.discipline),
        el('label', { class: 'check' }, box, ' ', t(`discipline.ack.${kind}`)));
    }
    this.box.hidden = !this.required.length;
    this.sync();
  }

  get ticked() {
    return this.required.every((k) => { const b = this.box.querySelector(`#${k}-ack`); return b && b.checked; });
  }

  sync() {
    if (this.button) this.button.disabled = !this.ticked;
  }

  // Records each acknowledgement; false if the page must not enter yet.
  async acknowledge() {
    await this.ready;
    if (!this.ticked) { this.sync(); return false; }
    for (const kind of this.required) {
      if (this.done.has(kind)) continue;
      const reply = await api(this.base, { method: 'POST', token: this.token, json: { acknowledge: kind } });
      if (!reply.ok) return false;
      this.done.add(kind);
    }
    return true;
  }
}
