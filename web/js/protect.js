// The console's Protect dialog: the judge picks whom a participant is screened from. The
// public is always screened from a protected participant (mosaic, role label, disguised
// voice); the people ticked here get the same, everyone else sees them as usual. The server
// checks the choice (400 for an unknown participant, the judge, or the person themselves).

import { el } from './util.js';
import { t, roleName } from './i18n.js';

// Resolves to the ids to screen `p` from, or null when the judge cancels.
export function protectDialog(p, participants) {
  const others = (participants || []).filter((q) => q.id !== p.id && q.state !== 'removed' && q.role !== 'judge');
  return new Promise((resolve) => {
    const boxes = others.map((q) => el('label', { class: 'row protect-choice' },
      el('input', { type: 'checkbox', value: q.id }),
      ` ${roleName(q.role, q.side)} ${q.name}`));
    const dialog = el('dialog', { class: 'confirm protect-dialog', dataset: { participant: p.id } },
      el('p', {}, t('protect.title', { name: `${roleName(p.role, p.side)} ${p.name}` })),
      el('p', { class: 'muted small' }, t('protect.public_always')),
      others.length ? el('fieldset', {}, el('legend', {}, t('protect.screen_from')), ...boxes) : el('p', { class: 'muted' }, t('protect.nobody')),
      el('div', { class: 'row end' },
        el('button', { type: 'button', class: 'btn', onclick: () => dialog.close('cancel') }, t('common.cancel')),
        el('button', { type: 'button', class: 'btn btn-primary protect-ok', onclick: () => dialog.close('ok') }, t('action.protect'))));
    dialog.addEventListener('close', () => {
      const ids = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      dialog.remove();
      resolve(dialog.returnValue === 'ok' ? ids : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector('.protect-ok').focus();
  });
}
