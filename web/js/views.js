// 质证 on the party's page: on an exhibit the court is showing, the other side states its view
// on authenticity (真实性), lawfulness (合法性) and relevance (关联性), admitting or disputing
// each, with optional reasons. POST /api/hearings/{id}/evidence/{exhibit}/views; the view
// becomes a line of the record. Your own side's exhibits take no view (the server refuses).

import { el, clear, toast } from './util.js';
import { api } from './api.js';
import { t, tMaybe } from './i18n.js';

const FIELDS = ['authenticity', 'lawfulness', 'relevance'];

export class ViewsForm {
  constructor(box, { hearingId, token, side, exhibits }) {
    this.box = box;
    this.hearingId = hearingId;
    this.token = token;
    this.side = side; // plaintiff | defendant: the side this participant speaks for
    this.exhibits = exhibits; // () => the exhibits the page knows
    this.presenting = null;
    this.stated = new Set();
  }

  showing(presenting) {
    this.presenting = presenting || null;
    this.render();
  }

  render() {
    const p = this.presenting;
    const x = p ? (this.exhibits() || []).find((e) => e.id === p.exhibit) : null;
    const side = x ? x.side : (p && p.side);
    clear(this.box);
    if (!p || !this.side || side === this.side) { this.box.hidden = true; return; }
    this.box.hidden = false;
    this.box.dataset.exhibit = p.exhibit;
    const form = el('form', { class: 'views', onsubmit: (e) => { e.preventDefault(); this.submit(form); } },
      el('h3', {}, t('views.title', { label: p.label || (x && x.label) || '' })));
    for (const field of FIELDS) {
      form.append(el('fieldset', { class: 'view-field', dataset: { field } },
        el('legend', {}, t(`views.${field}`)),
        el('label', { class: 'check' }, el('input', { type: 'radio', name: field, value: 'admit' }), ' ', t('views.admit')),
        el('label', { class: 'check' }, el('input', { type: 'radio', name: field, value: 'dispute' }), ' ', t('views.dispute'))));
    }
    form.append(
      el('label', { class: 'field' }, el('span', {}, t('views.reasons')), el('textarea', { name: 'comment', rows: 2, maxlength: 1000 })),
      el('button', { type: 'submit', class: 'btn btn-primary', id: 'views-submit' }, t('views.submit')));
    if (this.stated.has(p.exhibit)) form.append(el('p', { class: 'notice notice-info', dataset: { stated: '1' } }, t('views.stated')));
    this.box.append(form);
  }

  async submit(form) {
    const p = this.presenting;
    if (!p) return;
    const body = {};
    for (const field of FIELDS) {
      const chosen = form.querySelector(`input[name=${field}]:checked`);
      if (chosen) body[field] = chosen.value;
    }
    if (!Object.keys(body).length) { toast(t('views.need_one'), 'error'); return; }
    const comment = form.querySelector('textarea').value.replace(/\s+/g, ' ').trim();
    if (comment) body.comment = comment;
    const reply = await api(`/api/hearings/${encodeURIComponent(this.hearingId)}/evidence/${encodeURIComponent(p.exhibit)}/views`,
      { method: 'POST', token: this.token, json: body });
    if (!reply.ok) { toast(tMaybe(`error.${reply.error}`) || reply.message, 'error'); return; }
    this.stated.add(p.exhibit);
    toast(t('views.stated'), 'ok');
    this.render();
  }
}
