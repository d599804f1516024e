// The device check: camera preview, microphone level, speaker test tone, device choice, and a
// clear reason when the camera or microphone cannot be used.

import { el, clear } from './util.js';
import { t } from './i18n.js';

/** Ask for 640x360 at 15 fps: the server composes small tiles from it anyway. */
const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Map a getUserMedia failure onto one of our reasons. */
export function mediaErrorReason(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'denied';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') return 'no_device';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'in_use';
  if (name === 'insecure') return 'insecure';
  return 'unknown';
}

export class DeviceCheck extends EventTarget {
  /**
   * @param {object} els  {preview: <video>, meter: element, cameraSelect, micSelect, speakerSelect, message}
   */
  /** The check screen every page shares (`#screen-check`: the same element ids on each). */
  static onPage(options = {}) {
    const byId = (id) => document.getElementById(id);
    return new DeviceCheck({
      preview: byId('check-preview'),
      meter: byId('mic-meter'),
      cameraSelect: byId('camera-select'),
      micSelect: byId('mic-select'),
      speakerSelect: byId('speaker-select'),
      testButton: byId('speaker-test'),
      message: byId('device-message'),
      previewOff: byId('check-preview-off'),
    }, options);
  }

  constructor(els, { wantVideo = true, wantAudio = true } = {}) {
    super();
    this.els = els;
    this.wantVideo = wantVideo;
    this.wantAudio = wantAudio;
    this.stream = null;
    this.reason = null; // null when all is well
    this.partial = null; // 'no_camera' | 'no_microphone' when one of them is missing
    this.audioContext = null;
    this.meterFrame = 0;
    this.level = 0;
    this.speakerId = '';
    this.cameraOn = true;
    this.pending = Promise.resolve(null);
  }

  /** Open the devices; `pending` resolves when this attempt is over (entering waits for it). */
  start(cameraId = '', micId = '') {
    this.pending = this._start(cameraId, micId);
    return this.pending;
  }

  async _start(cameraId, micId) {
    this.stopTracks();
    this.reason = null;
    this.partial = null;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.reason = 'insecure';
      this._render();
      return null;
    }
    const video = this.wantVideo ? (cameraId ? { ...VIDEO, deviceId: { exact: cameraId } } : VIDEO) : false;
    const audio = this.wantAudio ? (micId ? { ...AUDIO, deviceId: { exact: micId } } : AUDIO) : false;
    if (!video && !audio) { this._render(); return null; }
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video, audio });
    } catch (err) {
      const reason = mediaErrorReason(err);
      // One missing device should not keep someone out: try each alone.
      if ((reason === 'no_device' || reason === 'in_use') && video && audio) {
        stream = await this._try({ audio });
        if (stream) this.partial = 'no_camera';
        else {
          stream = await this._try({ video });
          if (stream) this.partial = 'no_microphone';
        }
      }
      if (!stream) this.reason = reason;
    }
    this.stream = stream;
    if (stream) {
      this.els.preview.srcObject = stream;
      this.els.preview.muted = true;
      this.els.preview.play().catch(() => {});
      this._meter(stream);
      const v = stream.getVideoTracks()[0];
      if (v) v.enabled = this.cameraOn;
    }
    await this.listDevices();
    this._render();
    this.dispatchEvent(new CustomEvent('change', { detail: { stream, reason: this.reason, partial: this.partial } }));
    return stream;
  }

  async _try(constraints) {
    try { return await navigator.mediaDevices.getUserMedia(constraints); } catch { return null; }
  }

  async listDevices() {
    let devices = [];
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { devices = []; }
    const current = (kind) => {
      const track = this.stream && (kind === 'videoinput' ? this.stream.getVideoTracks()[0] : this.stream.getAudioTracks()[0]);
      return track ? track.getSettings().deviceId : '';
    };
    const fill = (select, kind, selected) => {
      if (!select) return;
      const list = devices.filter((d) => d.kind === kind && d.deviceId);
      clear(select);
      if (!list.length) {
        select.append(el('option', { value: '' }, t('device.none')));
        select.disabled = true;
        return;
      }
      select.disabled = false;
      list.forEach((d, i) => select.append(el('option', { value: d.deviceId, selected: d.deviceId === selected }, d.label || `${t(`device.kind.${kind}`)} ${i + 1}`)));
    };
    fill(this.els.cameraSelect, 'videoinput', current('videoinput'));
    fill(this.els.micSelect, 'audioinput', current('audioinput'));
    fill(this.els.speakerSelect, 'audiooutput', this.speakerId);
    if (this.els.speakerSelect && !('setSinkId' in HTMLMediaElement.prototype)) this.els.speakerSelect.disabled = true;
  }

  _meter(stream) {
    cancelAnimationFrame(this.meterFrame);
    const track = stream.getAudioTracks()[0];
    if (!track || !this.els.meter) return;
    try {
      this.audioContext = this.audioContext || new AudioContext();
      const source = this.audioContext.createMediaStreamSource(new MediaStream([track]));
      const analyser = this.audioContext.createAnalyser();
      analyser.fftSize = 512;
      source.connect(analyser);
      const data = new Float32Array(analyser.fftSize);
      const bar = this.els.meter.querySelector('.meter-bar') || this.els.meter;
      const tick = () => {
        analyser.getFloatTimeDomainData(data);
        let sum = 0;
        for (const x of data) sum += x * x;
        const rms = Math.sqrt(sum / data.length);
        // dBFS -60..0 onto 0..1
        const level = Math.max(0, Math.min(1, (20 * Math.log10(rms + 1e-9) + 60) / 60));
        this.level = Math.max(level, this.level * 0.85);
        bar.style.width = `${Math.round(this.level * 100)}%`;
        this.els.meter.dataset.level = this.level.toFixed(2);
        this.meterFrame = requestAnimationFrame(tick);
      };
      tick();
    } catch { /* no Web Audio: no meter */ }
  }

  /** One second of a 440 Hz tone on the chosen speaker. */
  async testSpeaker() {
    const ctx = new AudioContext();
    try {
      if (this.speakerId && typeof ctx.setSinkId === 'function') await ctx.setSinkId(this.speakerId);
    } catch { /* the default speaker then */ }
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 440;
    gain.gain.setValueAtTime(0.0001, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.25, ctx.currentTime + 0.05);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 1.0);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 1.05);
    await new Promise((resolve) => { osc.onended = resolve; });
    await ctx.close();
  }

  setCamera(on) {
    this.cameraOn = on;
    const v = this.stream && this.stream.getVideoTracks()[0];
    if (v) v.enabled = on;
  }

  setMicrophone(on) {
    const a = this.stream && this.stream.getAudioTracks()[0];
    if (a) a.enabled = on;
  }

  stopTracks() {
    cancelAnimationFrame(this.meterFrame);
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
  }

  stop() {
    this.stopTracks();
    if (this.audioContext) this.audioContext.close().catch(() => {});
    this.audioContext = null;
  }

  _render() {
    const off = this.els.previewOff;
    if (off) off.hidden = !!(this.stream && this.stream.getVideoTracks().length && this.cameraOn) || !this.wantVideo;
    const box = this.els.message;
    if (!box) return;
    const reason = this.reason || this.partial;
    box.hidden = !reason;
    box.dataset.error = reason || '';
    box.className = `notice ${this.reason ? 'notice-error' : 'notice-warn'}`;
    if (reason) box.textContent = t(`device.error.${reason}`);
  }

  /** Wire the selects and the speaker button of a device panel. */
  bind({ onTrackChange } = {}) {
    const { cameraSelect, micSelect, speakerSelect, testButton } = this.els;
    const restart = async () => {
      await this.start(cameraSelect ? cameraSelect.value : '', micSelect ? micSelect.value : '');
      if (onTrackChange) onTrackChange(this.stream);
    };
    if (cameraSelect) cameraSelect.addEventListener('change', restart);
    if (micSelect) micSelect.addEventListener('change', restart);
    if (speakerSelect) speakerSelect.addEventListener('change', () => { this.speakerId = speakerSelect.value; this.dispatchEvent(new CustomEvent('speaker', { detail: this.speakerId })); });
    if (testButton) testButton.addEventListener('click', async () => {
      testButton.disabled = true;
      try { await this.testSpeaker(); } finally { testButton.disabled = false; }
    });
  }
}
