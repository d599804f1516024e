// The live transcript: partial segments replace each other by id, final ones stay.
// Renders the list (with speaker labels) and the caption lines over the picture.

import { el, clear, clock } from './util.js';
import { t, roleName } from './i18n.js';

export function speakerLabel(segment) {
  const role = segment.role ? roleName(segment.role, segment.side) : '';
  const name = segment.name || '';
  if (role && name) return `${role} ${name}`;
  return role || name || t('transcript.unknown_speaker');
}

/** Segments out of whatever shape a transcript answer has: [..], {segments: [..]}, {transcript: [..]}. */
export function segmentsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.segments)) return data.segments;
  if (data && Array.isArray(data.transcript)) return data.transcript;
  return [];
}

/** The segment of a {"type": "transcript", "segment", "corrected"?} message. */
export function segmentOf(message) {
  return message.corrected ? { ...message.segment, corrected: true } : message.segment;
}

export class TranscriptView {
  /**
   * @param {HTMLElement} list  an <ol>
   * @param {object} o
   * @param {HTMLElement} [o.captions]  the caption box over the picture
   * @param {(segment, text) => Promise<boolean>} [o.onEdit]  corrections (the console)
   * @param {(segment) => void} [o.onSelect]  a click on a line
   */
  constructor(list, { captions = null, onEdit = null, onSelect = null, emptyKey = 'transcript.empty' } = {}) {
    this.list = list;
    this.captions = captions;
    this.onEdit = onEdit;
    this.onSelect = onSelect;
    this.emptyKey = emptyKey;
    this.segments = new Map();
    this.rows = new Map();
    this.captionTimer = null;
    this.filter = '';
    this._empty();
  }

  _empty() {
    if (this.segments.size === 0) {
      clear(this.list);
      this.list.append(el('li', { class: 'empty muted' }, t(this.emptyKey)));
    }
  }

  load(segments) {
    for (const s of segments) this.apply(s, { caption: false });
  }

  apply(segment, { caption = true } = {}) {
    if (!segment || segment.id === undefined || segment.id === null) return;
    const id = String(segment.id);
    const previous = this.segments.get(id);
    // A final sent again with no text was merged into its turn's first line by the record engine.
    if (segment.final && !segment.text) {
      this._drop(id);
      return;
    }
    // A late partial never overwrites its final text.
    if (previous && previous.final && !segment.final) return;
    // A speaker's final line takes the place of that speaker's partial one.
    if (segment.final && segment.speaker !== undefined) {
      for (const [otherId, other] of this.segments) {
        if (otherId !== id && !other.final && other.speaker === segment.speaker) this._drop(otherId);
      }
    }
    if (this.segments.size === 0) clear(this.list);
    this.segments.set(id, segment);
    const row = this._row(segment);
    const old = this.rows.get(id);
    const stick = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 24;
    if (old) old.replaceWith(row);
    else this._insert(row, segment);
    this.rows.set(id, row);
    this._applyFilter(row, segment);
    if (stick) this.list.scrollTop = this.list.scrollHeight;
    if (caption) this._caption();
  }

  _drop(id) {
    const row = this.rows.get(id);
    if (row) row.remove();
    this.rows.delete(id);
    this.segments.delete(id);
  }

  _insert(row, segment) {
    const start = Number(segment.start) || 0;
    for (const [id, other] of this.rows) {
      const s = this.segments.get(id);
      if (s && (Number(s.start) || 0) > start && other.parentNode === this.list) {
        this.list.insertBefore(row, other);
        return;
      }
    }
    this.list.append(row);
  }

  _row(segment) {
    const text = el('span', { class: 'seg-text' }, segment.text || '');
    const corrected = !!(segment.corrected || segment.edited);
    const row = el('li', {
      class: `seg ${segment.final ? 'final' : 'partial'}${corrected ? ' corrected' : ''}`,
      dataset: { id: String(segment.id), start: String(segment.start ?? '') },
    },
    el('span', { class: 'seg-time' }, clock(Number(segment.start))),
    el('span', { class: 'seg-speaker' }, speakerLabel(segment)),
    text,
    corrected ? el('span', { class: 'badge badge-muted', title: t('transcript.corrected') }, t('transcript.corrected_short')) : null);
    if (this.onSelect) {
      row.tabIndex = 0;
      row.addEventListener('click', () => this.onSelect(segment));
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.onSelect(segment); });
    }
    if (this.onEdit && segment.final) {
      text.title = t('transcript.edit_hint');
      text.classList.add('editable');
      text.addEventListener('click', () => this._edit(segment, text));
    }
    return row;
  }

  _edit(segment, span) {
    if (span.querySelector('input')) return;
    const input = el('input', { class: 'seg-edit', type: 'text', value: segment.text || '', 'aria-label': t('transcript.edit_hint') });
    clear(span).append(input);
    input.focus();
    input.select();
    const done = async (save) => {
      input.onblur = null;
      const text = input.value.trim();
      if (save && text && text !== segment.text) {
        input.disabled = true;
        const ok = await this.onEdit(segment, text);
        if (ok) {
          this.apply({ ...segment, text, corrected: true }, { caption: false });
          return;
        }
      }
      clear(span).append(segment.text || '');
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); done(true); }
      if (e.key === 'Escape') { e.preventDefault(); done(false); }
      e.stopPropagation();
    });
    input.onblur = () => done(false);
  }

  _caption() {
    if (!this.captions) return;
    const recent = Array.from(this.segments.values())
      .sort((a, b) => (Number(a.start) || 0) - (Number(b.start) || 0))
      .slice(-2);
    clear(this.captions);
    for (const s of recent) {
      this.captions.append(el('div', { class: `caption-line${s.final ? '' : ' partial'}` },
        el('span', { class: 'caption-speaker' }, `${speakerLabel(s)}：`), s.text || ''));
    }
    this.captions.hidden = recent.length === 0;
    clearTimeout(this.captionTimer);
    this.captionTimer = setTimeout(() => { this.captions.hidden = true; }, 8000);
  }

  /** Show only lines containing `query` (case-insensitive); returns how many match. */
  search(query) {
    this.filter = (query || '').trim().toLowerCase();
    let count = 0;
    for (const [id, row] of this.rows) if (this._applyFilter(row, this.segments.get(id))) count += 1;
    return count;
  }

  _applyFilter(row, segment) {
    if (!this.filter) { row.hidden = false; return true; }
    const hay = `${segment.text || ''} ${speakerLabel(segment)}`.toLowerCase();
    const match = hay.includes(this.filter);
    row.hidden = !match;
    return match;
  }

  /** Mark the line playing at `time` (the replay). */
  highlight(time) {
    let current = null;
    for (const [id, row] of this.rows) {
      const s = this.segments.get(id);
      const start = Number(s.start) || 0;
      const end = Number(s.end) || start;
      const on = time >= start && time < Math.max(end, start + 0.5);
      row.classList.toggle('playing', on);
      if (on) current = row;
    }
    return current;
  }

  rerender() {
    for (const [id, row] of this.rows) {
      const fresh = this._row(this.segments.get(id));
      row.replaceWith(fresh);
      this.rows.set(id, fresh);
    }
    this._empty();
  }
}
