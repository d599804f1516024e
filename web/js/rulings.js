// The judge's rulings on attendance, from the console (docs/record.md): a party or agent who
// never came, walked out or dropped — 视为缺席, 按撤诉处理, or 准许 (离庭). The pod records and
// shows; the judge decides: each ruling is the action `rule` and a line of the record.

import { el } from './util.js';
import { t } from './i18n.js';

const PARTIES = ['plaintiff', 'defendant', 'agent'];
const RULINGS = ['deemed_absent', 'withdrawal', 'permitted'];

/** A select for one participant, or null when no ruling applies. */
export function rulingSelect(p, { may, send }) {
  if (!PARTIES.includes(p.role) || !may('rule')) return null;
  const select = el('select', { class: 'ruling', dataset: { participant: p.id }, 'aria-label': t('ruling.label') },
    el('option', { value: '' }, t('ruling.label')),
    ...RULINGS.map((r) => el('option', { value: r }, t(`ruling.${r}`))));
  select.addEventListener('change', () => {
    if (select.value) send('rule', p.id, { ruling: select.value });
    select.value = '';
  });
  return select;
}
