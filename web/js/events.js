// The hearing's events as sentences a person reads ("10:02 原告 张三 提交证据：原告证据1 借条"),
// in the court's language: never an event code, a participant id or an exhibit id.

import { t, tMaybe, roleName } from './i18n.js';
import { wallTime } from './util.js';

/**
 * @param {object} e  an event: kind, actor, subject, data, wall_time
 * @param {object[]} participants  the hearing's participants (removed ones included)
 * @param {object[]} exhibits  the hearing's exhibits (for labels of withdrawn or viewed ones)
 */
export function eventSentence(e, participants = [], exhibits = []) {
  const person = (id, data = {}) => {
    if (!id) return '';
    if (id === 'clerk') return t('role.clerk');
    if (id === 'system') return t('event.system');
    const p = participants.find((q) => q.id === id);
    if (p) return `${roleName(p.role, p.side)} ${p.name}`;
    if (data.name && data.role) return `${roleName(data.role)} ${data.name}`;
    return t('event.someone');
  };
  const data = e.data || {};
  const exhibit = exhibits.find((x) => x.id === e.subject);
  const vars = {
    ...data,
    who: person(e.actor),
    whom: e.kind.startsWith('participant.') || e.kind.startsWith('asr.') ? person(e.subject, data) : '',
    label: data.label || (exhibit ? exhibit.label : t('event.an_exhibit')),
    delay: Math.round(Number(data.delay) || 0),
  };
  // The court's officers are seated when they join: they come into the courtroom, not the waiting room.
  const seated = e.kind === 'participant.join' && participants.some((p) => p.id === e.subject && ['judge', 'clerk', 'mediator'].includes(p.role));
  const key = seated ? 'event_sentence.participant.join_seated' : `event_sentence.${e.kind}`;
  const text = tMaybe(key, vars) || t('event_sentence.other', vars);
  return `${wallTime(e.wall_time)} ${text}`.trim();
}
