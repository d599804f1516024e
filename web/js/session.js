// One participant's connection to a hearing: the signaling WebSocket, the WebRTC peer and
// the reconnection rules (docs/protocol.md).
//
// Rules this client follows:
// - one RTCPeerConnection per WebSocket: the server keeps one peer per socket and has no ICE
//   restart, so starting media over means a NEW socket, then a NEW peer and a fresh offer;
// - the offer carries exactly one audio and one video m-line (sendrecv when we publish);
//   our own ICE candidates are trickled, the server's all come inside its answer;
// - the offer goes out once the state says we receive the hearing's media and the hearing is
//   live; the peer stays up when media is withdrawn (a witness excused) and comes back
//   without renegotiation;
// - a dropped socket (network, server restart, missing pongs) is retried with backoff and a
//   token check before each try; close code 4000 (replaced by another window) and 4001
//   (removed) are final until the user acts.

import { api } from './api.js';

const LIVE = new Set(['open', 'in_session', 'recess']);
const PING_EVERY = 5000;
const SILENCE_LIMIT = 15000; // no message at all for this long: the socket is dead
const ICE_GRACE = 6000; // "disconnected" for this long: start over
const CONNECT_LIMIT = 30000; // no media path this long after the offer: say so, start over
const NO_PATH_RETRY = 8000; // after saying "no path": leave it on screen this long, then start over
const NO_CANDIDATE_GRACE = 5000; // gathering found nothing: say "no path" this long after, if not connected
const FINAL_CODES = new Set(['token_expired', 'removed', 'bad_token', 'forbidden', 'not_found']);
// A test-only switch of the page: `?ice=relay` makes the peer use relayed (TURN) candidates
// only, as a party behind a firewall that lets nothing else through would.
const ICE_POLICY = new URLSearchParams(location.search).get('ice') === 'relay' ? 'relay' : 'all';

/** Ask the HTTP API whether a token still works for a hearing (the WebSocket cannot say why it refuses). */
export async function checkToken(hearingId, token) {
  const reply = await api(`/api/hearings/${encodeURIComponent(hearingId)}`, { token });
  if (reply.ok) return { ok: true, hearing: reply.data };
  return { ok: false, status: reply.status, code: reply.error, message: reply.message };
}

export class HearingSession extends EventTarget {
  /**
   * @param {object} o
   * @param {string} o.hearingId
   * @param {string} o.token
   * @param {() => MediaStream|null} o.localStream  what to publish (null: receive only)
   * @param {boolean} o.publish  whether this role may publish at all
   */
  constructor({ hearingId, token, localStream, publish = true }) {
    super();
    this.hearingId = hearingId;
    this.token = token;
    this.localStream = localStream;
    this.publish = publish;
    this.status = 'idle';
    this.state = null;
    this.ws = null;
    this.pc = null;
    this.remoteStream = null;
    this.generation = 0; // one per socket
    this.peers = 0; // peers made so far (tests read it)
    this.attempts = 0;
    this.lastMessageAt = 0;
    this.pingTimer = null;
    this.retryTimer = null;
    this.iceTimer = null;
    this.connectTimer = null;
    this.leaving = false;
    this.stopped = false;
    this.pendingCandidates = [];
    this.offerSent = false;
    this.rtt = null;
    this.iceServers = []; // from the server's `ice_servers` message, fresh on every socket
    this.icePolicy = ICE_POLICY;
    this._onOnline = () => this._online();
    this._onOffline = () => this._offline();
    window.addEventListener('online', this._onOnline);
    window.addEventListener('offline', this._onOffline);
  }

  // --- public ---------------------------------------------------------------------------

  start() {
    this.stopped = false;
    this.leaving = false;
    this._open();
  }

  /** After "replaced": take the hearing back into this window. */
  takeOver() {
    this.attempts = 0;
    this.start();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  action(action, participant = null, extra = {}) {
    const message = { type: 'action', action, ...extra };
    if (participant) message.participant = participant;
    return this.send(message);
  }

  /** Leave on purpose: tell the server, then close everything. */
  leave() {
    this.leaving = true;
    this.action('leave');
    this._setStatus('left');
    setTimeout(() => this._shutdown(1000), 300);
  }

  /** Stop for good (page closing, hearing closed, removed). */
  stop(status = null) {
    this.stopped = true;
    this._shutdown(1000);
    if (status) this._setStatus(status);
  }

  get wantsMedia() {
    const s = this.state;
    return !!(s && s.receives_media && LIVE.has(s.hearing.state));
  }

  // --- socket ---------------------------------------------------------------------------

  _url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // `hearing` lets a multi-pod court's proxy route the socket to the pod holding the hearing.
    return `${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}&hearing=${encodeURIComponent(this.hearingId)}`;
  }

  async _open() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    const reconnecting = this.generation > 0;
    this._setStatus(reconnecting ? 'reconnecting' : 'connecting');
    if (reconnecting) {
      // The socket's refusal has no reason a browser can read: ask the API first.
      const check = await checkToken(this.hearingId, this.token);
      if (this.stopped) return;
      if (!check.ok && FINAL_CODES.has(check.code)) {
        this.stop(check.code === 'removed' ? 'removed' : check.code === 'token_expired' ? 'expired' : 'invalid');
        this._emit('fatal', { code: check.code, message: check.message });
        return;
      }
      if (!check.ok) { // network or server down: try again later
        this._retry();
        return;
      }
    }
    const generation = ++this.generation;
    this._replaced = false;
    this._removed = false;
    let ws;
    try {
      ws = new WebSocket(this._url());
    } catch {
      this._retry();
      return;
    }
    this.ws = ws;
    this.offerSent = false;
    this.pendingCandidates = [];
    this.iceServers = []; // the last socket's TURN credentials may have expired
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.attempts = 0;
      this.lastMessageAt = Date.now();
      this._setStatus('connected');
      this.send({ type: 'hello' });
      this._startPing();
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.lastMessageAt = Date.now();
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this._handle(message, generation);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return; // an abandoned socket
      this._socketGone(event.code);
    };
  }

  _socketGone(code) {
    this._stopPing();
    this.ws = null;
    this._closePeer();
    if (this.stopped) return;
    if (this.leaving) { this._setStatus('left'); return; }
    if (code === 4000 || this._replaced) {
      this._replaced = false;
      this.stopped = true;
      this._setStatus('replaced');
      return;
    }
    if (code === 4001 || this._removed) {
      this.stopped = true;
      this._setStatus('removed');
      return;
    }
    this._retry();
  }

  /** Give up on the current socket without waiting for its close handshake. */
  _abandon() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(1000); } catch { /* already gone */ }
    }
    this._stopPing();
    this._closePeer();
  }

  _retry() {
    if (this.stopped) return;
    this._setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    const delay = Math.min(10000, 500 * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
    this.attempts += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._open(), delay);
  }

  _offline() {
    if (this.stopped) return;
    this._abandon();
    clearTimeout(this.retryTimer);
    this._setStatus('offline');
  }

  _online() {
    if (this.stopped || this.ws) return;
    this.attempts = 0;
    this._open();
  }

  _startPing() {
    this._stopPing();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastMessageAt > SILENCE_LIMIT) {
        this._abandon();
        this._retry();
        return;
      }
      this.send({ type: 'ping', t: Date.now() });
    }, PING_EVERY);
  }

  _stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  _shutdown(code) {
    clearTimeout(this.retryTimer);
    this._stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(code); } catch { /* ignore */ }
    }
    this._closePeer();
  }

  /** Start over: a new socket, then a new peer (the server has no ICE restart). */
  restart() {
    if (this.stopped) return;
    this._abandon();
    this.attempts = 0;
    this._open();
  }

  // --- messages -------------------------------------------------------------------------

  _handle(message, generation) {
    switch (message.type) {
      case 'state':
        this.state = message;
        this._emit('state', message);
        this._syncMedia(generation);
        break;
      case 'answer':
        this._answer(message.sdp);
        break;
      case 'ice_servers':
        if (Array.isArray(message.ice_servers)) this.iceServers = message.ice_servers;
        break;
      case 'pong':
        if (typeof message.t === 'number') this.rtt = Date.now() - message.t;
        break;
      case 'error':
        this._error(message);
        break;
      default:
        // transcript, event, evidence and whatever comes later: the page decides.
        this._emit(message.type, message);
    }
  }

  _error(message) {
    const code = message.code;
    if (code === 'replaced') this._replaced = true;
    else if (code === 'removed') this._removed = true;
    else if (code === 'not_live') {
      // The server made no peer: drop ours, the next live state makes a new one.
      this._closePeer();
    } else if (code === 'media_failed') {
      this.restart();
    } else if (code === 'bad_sdp' && this.pc && !this.pc.remoteDescription) {
      this._closePeer();
    }
    this._emit('servererror', message);
  }

  // --- media ----------------------------------------------------------------------------

  _syncMedia(generation) {
    const closed = this.state && this.state.hearing.state === 'closed';
    if (closed) {
      this._closePeer();
      return;
    }
    if (this.wantsMedia && !this.pc && generation === this.generation) {
      this._startPeer().catch((err) => {
        this._emit('mediaerror', { message: String(err && err.message || err) });
        this._closePeer();
      });
    }
  }

  async _startPeer() {
    // TURN from the server (coturn, short-lived credentials); host candidates are tried as
    // well unless the page is switched to relay only.
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers, iceTransportPolicy: this.icePolicy, bundlePolicy: 'max-bundle',
    });
    this.pc = pc;
    this.peers += 1;
    this.offerSent = false;
    this.pendingCandidates = [];
    const local = this.publish && this.localStream ? this.localStream() : null;
    const audio = local ? local.getAudioTracks()[0] : null;
    const video = local ? local.getVideoTracks()[0] : null;
    const streams = local ? [local] : [];
    // Exactly one audio and one video m-line, in this order.
    pc.addTransceiver(audio || 'audio', { direction: audio ? 'sendrecv' : 'recvonly', streams });
    pc.addTransceiver(video || 'video', { direction: video ? 'sendrecv' : 'recvonly', streams });
    this.remoteStream = new MediaStream();
    pc.ontrack = (event) => {
      if (pc !== this.pc) return;
      this.remoteStream.addTrack(event.track);
      this._emit('remotestream', { stream: this.remoteStream });
    };
    let gathered = 0;
    pc.onicegatheringstatechange = () => {
      if (pc !== this.pc || pc.iceGatheringState !== 'complete' || gathered > 0) return;
      // Not one candidate of our own (the relay unreachable and the page may use nothing
      // else): say so soon rather than after the connect limit, unless the connection works
      // anyway (a peer-reflexive pair, e.g. right after the network came back). Starting over
      // stays the connect limit's job.
      setTimeout(() => { if (pc === this.pc && pc.connectionState !== 'connected') this._noPath(); }, NO_CANDIDATE_GRACE);
    };
    pc.onicecandidate = (event) => {
      if (pc !== this.pc || !event.candidate || !event.candidate.candidate) return;
      gathered += 1;
      const message = {
        type: 'candidate',
        candidate: event.candidate.candidate,
        sdpMid: event.candidate.sdpMid,
        sdpMLineIndex: event.candidate.sdpMLineIndex,
      };
      if (this.offerSent) this.send(message);
      else this.pendingCandidates.push(message);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const state = pc.connectionState;
      this._emit('mediastate', { state });
      clearTimeout(this.iceTimer);
      if (state === 'failed') {
        // No candidate pair worked (direct or relayed): say so plainly, then start over.
        this._noPath();
        this.iceTimer = setTimeout(() => this.restart(), 1000);
      } else if (state === 'disconnected') {
        this.iceTimer = setTimeout(() => { if (pc === this.pc && pc.connectionState !== 'connected') this.restart(); }, ICE_GRACE);
      }
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (pc !== this.pc) return;
    if (!this.send({ type: 'offer', sdp: pc.localDescription.sdp })) return;
    this.offerSent = true;
    for (const message of this.pendingCandidates.splice(0)) this.send(message);
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (pc !== this.pc || pc.connectionState === 'connected') return;
      this._noPath();
      clearTimeout(this.iceTimer);
      this.iceTimer = setTimeout(() => this.restart(), NO_PATH_RETRY);
    }, CONNECT_LIMIT);
    this._emit('mediastate', { state: 'negotiating' });
  }

  async _answer(sdp) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      this._emit('mediaerror', { message: String(err && err.message || err) });
      this.restart();
    }
  }

  _closePeer() {
    clearTimeout(this.iceTimer);
    clearTimeout(this.connectTimer);
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.ontrack = pc.onicecandidate = pc.onconnectionstatechange = pc.onicegatheringstatechange = null;
      try { pc.close(); } catch { /* ignore */ }
      this._emit('mediastate', { state: 'closed' });
    }
  }

  /** Replace what we publish (a device change) without renegotiating. */
  /** Send another camera and microphone (a device change) without renegotiating. */
  async useStream(stream) {
    await this.replaceTrack('audio', stream.getAudioTracks()[0] || null);
    await this.replaceTrack('video', stream.getVideoTracks()[0] || null);
  }

  async replaceTrack(kind, track) {
    if (!this.pc) return;
    const transceiver = this.pc.getTransceivers().find((t) => t.receiver.track && t.receiver.track.kind === kind);
    if (transceiver && transceiver.sender) await transceiver.sender.replaceTrack(track);
  }

  /** Say that no network path works; the pages show it as an error banner. */
  _noPath() {
    this._emit('servererror', { code: 'no_path', message: this._noPathMessage() });
  }

  _noPathMessage() {
    const relays = this.iceServers.some((s) => [].concat(s.urls).some((u) => /^turns?:/.test(u)));
    return relays
      ? 'No network path to the court works, neither direct nor through the relay (TURN) server: '
        + 'a firewall may block it. Try another network; we keep trying.'
      : 'No direct network path to the court works and the court offers no relay (TURN) server: '
        + 'a firewall may block it. Try another network; we keep trying.';
  }

  /** The addresses of the candidate pair in use (diagnostics; tests read it). */
  async selectedPair() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
    });
    if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    return {
      local: local ? `${local.address || local.ip}:${local.port}` : null,
      remote: remote ? `${remote.address || remote.ip}:${remote.port}` : null,
      localType: local && local.candidateType,
      remoteType: remote && remote.candidateType,
    };
  }

  // --- events ---------------------------------------------------------------------------

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit('status', { status });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
