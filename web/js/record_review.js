// The record's review on the console (docs/record.md): its lifecycle state and version, the
// court's signatures, and the buttons of the judge and the clerk: sign the latest version,
// and for the presiding judge, finalise it with what is outstanding written in.

import { el, toast, wallTime } from './util.js';
import { api } from './api.js';
import { t, tMaybe } from './i18n.js';

const SIGNERS = ['judge', 'clerk', 'mediator'];

export function recordStatusKey(r) {
  const confirmations = Array.isArray(r.confirmations) ? r.confirmations : [];
  const pending = Array.isArray(r.pending) ? r.pending : [];
  const objected = confirmations.some((c) => c.decision === 'object');
  if (r.signed) return 'signed';
  if (r.record_state === 'finishing') return 'finishing';
  if (confirmations.length && !pending.length) return objected ? 'complete_objections' : 'complete';
  return confirmations.length ? 'partial' : 'pending';
}

// Appends the version, the signatures and (for the court) the signing buttons to `box`.
export function renderSigning(box, { hearingId, token, me, record, reload }) {
  const r = record || {};
  if (r.version_number) {
    box.append(el('p', { class: 'small', dataset: { recordState: r.record_state || '', version: String(r.version_number) } },
      t('record.version', { n: r.version_number, state: t(`record.state.${r.record_state}`) })));
  }
  const signed = Array.isArray(r.signatures) ? r.signatures : [];
  const waiting = Array.isArray(r.signatures_pending) ? r.signatures_pending : [];
  if (signed.length || waiting.length) {
    const list = el('ul', { class: 'people', id: 'record-signatures' });
    for (const s of signed) {
      list.append(el('li', { class: 'person', dataset: { participant: s.participant, signed: s.kind } },
        el('span', {}, `${s.title_zh || ''} ${s.name || ''} `),
        el('span', { class: 'badge badge-ok' }, `${t(`record.signed_${s.kind}`)} ${wallTime(s.wall_time)}`)));
    }
    for (const s of waiting) {
      list.append(el('li', { class: 'person', dataset: { participant: s.participant, signed: 'pending' } },
        el('span', {}, `${s.title_zh || ''} ${s.name || ''} `), el('span', { class: 'badge badge-muted' }, t('record.unsigned'))));
    }
    box.append(list);
  }
  if (r.record_state !== 'review' || !me || !SIGNERS.includes(me.role)) return;
  const sign = async (decision) => {
    const reply = await api(`/api/hearings/${encodeURIComponent(hearingId)}/record/sign`,
      { method: 'POST', token, json: { decision, version: r.version } });
    if (!reply.ok) { toast(tMaybe(`error.${reply.error}`) || reply.message, 'error'); }
    await reload();
  };
  const row = el('div', { class: 'row' });
  const mine = signed.some((s) => s.participant === me.id);
  if (!mine) row.append(el('button', { type: 'button', id: 'record-sign', class: 'btn btn-small', onclick: () => sign('sign') }, t('record.sign')));
  if (me.role !== 'clerk') {
    row.append(el('button', { type: 'button', id: 'record-finalise', class: 'btn btn-small btn-danger', onclick: () => sign('finalise') }, t('record.finalise')));
  }
  box.append(row);
}
