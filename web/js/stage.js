// The courtroom picture on a page: where its seats are (the layout the server sends with each
// state), captions that never cover a seat or the exhibit, seat labels readable on a phone, and
// a zoom into one seat or the exhibit by a CSS transform of the same video (no second encode).

import { el, clear } from './util.js';
import { roleName } from './i18n.js';

const WIDE = 820; // px: at and above this the captions sit below the picture
const LABEL_FONT = 12; // px: the HTML seat labels' size on a small picture

export class Stage {
  /**
   * @param {object} o
   * @param {HTMLElement} o.stage  the picture's box (position: relative)
   * @param {HTMLElement} o.zoom  the transformed box inside it, holding the video and the labels
   * @param {HTMLVideoElement} o.video
   * @param {HTMLElement} o.labels  where HTML seat labels go (inside o.zoom)
   * @param {HTMLElement} o.captions  the caption box
   * @param {HTMLElement} o.foot  the row below the picture (captions below, the self-view)
   * @param {boolean} [o.tapToZoom]  a tap (click) on a seat zooms into it
   */
  constructor({ stage, zoom, video, labels, captions, foot, tapToZoom = true }) {
    Object.assign(this, { stage, zoom, video, labels, captions, foot, tapToZoom });
    this.layout = null;
    this.people = [];
    this.zoomed = null; // {kind: 'seat'|'exhibit', id?}
    this.onZoom = null;
    this.following = false; // zoom to whoever speaks (the server's `speaker` messages)
    this.speaking = null;
    if (tapToZoom) stage.addEventListener('click', (e) => this._tap(e));
    const again = () => this.render();
    window.addEventListener('resize', again);
    video.addEventListener('loadedmetadata', again);
    video.addEventListener('resize', again);
    if (typeof ResizeObserver === 'function') new ResizeObserver(again).observe(stage);
  }

  /** A new state: the layout (may be null) and the participants (for the labels). */
  update(layout, participants) {
    this.layout = layout && Array.isArray(layout.seats) ? layout : null;
    this.people = participants || [];
    if (this.zoomed && !this._zoomRect()) this.zoomed = null; // that seat or exhibit is gone
    this.render();
  }

  /** Where the picture is drawn inside the stage box, in CSS pixels (object-fit: contain). */
  content() {
    const W = this.stage.clientWidth;
    const H = this.stage.clientHeight;
    const pw = (this.layout && this.layout.width) || this.video.videoWidth || 16;
    const ph = (this.layout && this.layout.height) || this.video.videoHeight || 9;
    const k = Math.min(W / pw, H / ph);
    return { x: (W - pw * k) / 2, y: (H - ph * k) / 2, w: pw * k, h: ph * k, k };
  }

  zoomTo(target) {
    this.zoomed = target;
    this.render();
    if (this.onZoom) this.onZoom(this.zoomed);
  }

  /** Follow the active speaker: each `speaker` message zooms to that seat, silence to the whole room. */
  follow(on) {
    this.following = on;
    this.zoomTo(on && this.speaking ? { kind: 'seat', id: this.speaking } : null);
  }

  speaker(participantId) {
    this.speaking = participantId || null;
    if (this.following) this.zoomTo(this.speaking ? { kind: 'seat', id: this.speaking } : null);
  }

  zoomExhibit() { this.zoomTo(this.layout && this.layout.exhibit ? { kind: 'exhibit' } : null); }

  render() {
    this._applyZoom();
    this._renderLabels();
    this._placeCaptions();
  }

  _zoomRect() {
    const z = this.zoomed;
    if (!z || !this.layout) return null;
    if (z.kind === 'exhibit') return this.layout.exhibit || null;
    return this.layout.seats.find((s) => s.participant === z.id) || null;
  }

  _applyZoom() {
    const r = this._zoomRect();
    this.stage.dataset.zoom = r ? (this.zoomed.kind === 'exhibit' ? 'exhibit' : this.zoomed.id) : '';
    if (!r) { this.zoom.style.transform = ''; return; }
    const c = this.content();
    const W = this.stage.clientWidth;
    const H = this.stage.clientHeight;
    const s = Math.min(W / (r.w * c.k), H / (r.h * c.k));
    const cx = c.x + (r.x + r.w / 2) * c.k;
    const cy = c.y + (r.y + r.h / 2) * c.k;
    this.zoom.style.transformOrigin = '0 0';
    this.zoom.style.transform = `translate(${W / 2 - s * cx}px, ${H / 2 - s * cy}px) scale(${s})`;
  }

  _tap(event) {
    if (event.target.closest('button, a, input')) return;
    if (this.zoomed) { this.following = false; this.zoomTo(null); return; }
    if (!this.layout) return;
    const box = this.stage.getBoundingClientRect();
    const c = this.content();
    const px = (event.clientX - box.left - c.x) / c.k;
    const py = (event.clientY - box.top - c.y) / c.k;
    const inside = (r) => r && px >= r.x && px <= r.x + r.w && py >= r.y && py <= r.y + r.h;
    const seat = this.layout.seats.find(inside);
    if (seat) this.zoomTo({ kind: 'seat', id: seat.participant });
    else if (inside(this.layout.exhibit)) this.zoomTo({ kind: 'exhibit' });
  }

  /** On a small picture the burned-in labels are too small to read: cover each with one in HTML. */
  _renderLabels() {
    clear(this.labels);
    if (!this.layout) return;
    const c = this.content();
    const needed = c.k * 0.68 * 16 < LABEL_FONT; // the picture's label font would be under 12 px here
    this.labels.hidden = !needed;
    if (!needed) return;
    for (const seat of this.layout.seats) {
      const p = this.people.find((q) => q.id === seat.participant);
      const label = seat.label || { x: seat.x, y: seat.y + seat.h - 16, w: seat.w, h: 16 };
      const h = Math.max(label.h * c.k, LABEL_FONT * 1.5);
      const text = p ? (p.protected ? roleName(p.role, p.side) : `${roleName(p.role, p.side)} · ${p.name}`) : roleName(seat.role);
      const node = el('div', { class: 'seat-label', dataset: { participant: seat.participant } }, text);
      // CSSOM, not a style attribute: the pages' CSP allows no inline styles.
      Object.assign(node.style, {
        left: `${c.x + label.x * c.k}px`,
        top: `${c.y + (label.y + label.h) * c.k - h}px`,
        maxWidth: `${label.w * c.k}px`,
        height: `${h}px`,
        lineHeight: `${h}px`,
        fontSize: `${LABEL_FONT}px`,
      });
      this.labels.append(node);
    }
  }

  /**
   * Below the picture on a wide screen; on a phone over the free band at the foot of the
   * picture (under every seat and the exhibit), at most two lines, if the band is tall
   * enough, else below the picture too. Never over a seat or the exhibit.
   */
  _placeCaptions() {
    const box = this.captions;
    const wide = window.innerWidth >= WIDE;
    let over = null;
    if (!wide && this.layout && !this.zoomed) {
      const c = this.content();
      const used = Math.max(0, ...this.layout.seats.map((s) => s.y + s.h), this.layout.exhibit ? this.layout.exhibit.y + this.layout.exhibit.h : 0);
      const top = c.y + used * c.k + 2;
      const band = c.y + c.h - top - 2;
      const lineHeight = parseFloat(getComputedStyle(box).lineHeight) || 20;
      if (band >= 2 * lineHeight + 8) over = { top, left: c.x + 4, width: c.w - 8, height: Math.min(band, 2 * lineHeight + 8) };
    }
    if (over) {
      if (box.parentElement !== this.stage) this.stage.append(box);
      box.classList.add('captions-over');
      box.classList.remove('captions-below');
      Object.assign(box.style, { top: `${over.top}px`, left: `${over.left}px`, width: `${over.width}px`, maxHeight: `${over.height}px` });
    } else {
      if (box.parentElement !== this.foot) this.foot.prepend(box);
      box.classList.add('captions-below');
      box.classList.remove('captions-over');
      Object.assign(box.style, { top: '', left: '', width: '', maxHeight: '' });
    }
  }
}
