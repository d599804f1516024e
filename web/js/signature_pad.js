// An optional handwritten signature, drawn with a finger, pen or mouse on a canvas and sent as a
// PNG with the decision (`signature_image`); the server stores it with its SHA-256 and names
// that hash in the signed statement (docs/record.md).

import { el } from './util.js';
import { t } from './i18n.js';

export class SignaturePad {
  constructor(box) {
    this.box = box;
    this.drawn = false;
    this.canvas = el('canvas', { width: 360, height: 120, class: 'signature-pad', 'aria-label': t('signature.label') });
    const clearButton = el('button', { type: 'button', class: 'btn btn-small', onclick: () => this.clear() }, t('signature.clear'));
    box.append(el('span', { class: 'muted small' }, t('signature.label')), this.canvas, clearButton);
    box.hidden = false;
    const ctx = this.canvas.getContext('2d');
    ctx.lineWidth = 2.5;
    ctx.lineCap = 'round';
    let last = null;
    const at = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * (this.canvas.width / r.width), (e.clientY - r.top) * (this.canvas.height / r.height)];
    };
    this.canvas.addEventListener('pointerdown', (e) => { last = at(e); this.canvas.setPointerCapture(e.pointerId); });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!last) return;
      const next = at(e);
      ctx.beginPath();
      ctx.moveTo(last[0], last[1]);
      ctx.lineTo(next[0], next[1]);
      ctx.stroke();
      last = next;
      this.drawn = true;
    });
    const stop = () => { last = null; };
    this.canvas.addEventListener('pointerup', stop);
    this.canvas.addEventListener('pointercancel', stop);
  }

  clear() {
    this.canvas.getContext('2d').clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = false;
  }

  /** The drawing as a PNG data URL, or null when nothing was drawn. */
  image() {
    return this.drawn ? this.canvas.toDataURL('image/png') : null;
  }
}
