// The public player (/gallery/{id}): the live stream (HLS, played natively by the <video>
// element) or the replay, with captions, chapters, and the transcript beside it: a click on a
// line seeks the video, the search box narrows the lines.

import { $, el, clear, clock } from './util.js';
import { api, hearingIdFromPath } from './api.js';
import { t, initI18n, onLanguage } from './i18n.js';
import { TranscriptView, segmentsOf } from './transcript.js';
import { parseVtt } from './vtt.js';
import { playHls, nativeHls } from './hlsplayer.js';

const LIVE_STATES = ['open', 'in_session', 'recess'];
const view = { id: hearingIdFromPath(), info: null, status: 'loading', transcript: null, chapters: [], query: '', player: false };
window.courtroomReplay = view;

function say(status, kind = 'error') {
  view.status = status;
  const node = $('#replay-status');
  node.hidden = !status;
  node.dataset.status = status || '';
  node.className = `notice notice-${kind}`;
  node.textContent = status ? t(`replay.status.${status}`) : '';
}

async function load() {
  const reply = await api(`/public/hearings/${encodeURIComponent(view.id)}`);
  if (!reply.ok) {
    say(reply.status === 0 ? 'network' : reply.status === 404 ? 'not_found' : 'error', reply.status === 404 ? 'info' : 'error');
    return;
  }
  view.info = reply.data;
  say('', 'info');
  render();
  setupPlayer();
  await loadTranscript();
  loadChapters();
  if (LIVE_STATES.includes(view.info.state)) setTimeout(refresh, 10000);
}

/** While live: wait for the stream to start, follow the delayed captions, notice the close. */
async function refresh() {
  const reply = await api(`/public/hearings/${encodeURIComponent(view.id)}`);
  if (reply.ok) {
    const before = view.info;
    view.info = reply.data;
    render();
    if (!view.player && (reply.data.live_playlist || reply.data.replay_mp4)) setupPlayer();
    if (before.state !== reply.data.state && reply.data.state === 'closed') $('#player-message').textContent = t('replay.ended');
    await liveCaptions();
  }
  if (LIVE_STATES.includes(view.info.state)) setTimeout(refresh, 5000);
}

async function liveCaptions() {
  if (!view.info.live_captions || !view.transcript) return;
  const reply = await api(view.info.live_captions);
  if (reply.ok) for (const s of segmentsOf(reply.data)) view.transcript.apply({ ...s, final: true }, { caption: false });
}

function render() {
  const h = view.info;
  if (!h) return;
  $('#replay').hidden = false;
  $('#case-number').textContent = h.case_number || '';
  $('#case-title').textContent = h.title && h.title !== h.case_number ? h.title : '';
  $('#replay-court').textContent = h.court || '';
  const kind = $('#replay-kind');
  const live = LIVE_STATES.includes(h.state);
  kind.textContent = !live ? t('gallery.replay_badge') : h.live_playlist ? `● ${t('gallery.live_badge')}` : t('gallery.soon_badge');
  kind.className = `badge ${live && h.live_playlist ? 'badge-live' : 'badge-muted'}`;
  kind.dataset.kind = !live ? 'replay' : h.live_playlist ? 'live' : 'soon';
  document.title = `${h.case_number} · ${t('gallery.brand')}`;
  const downloads = clear($('#downloads'));
  if (h.replay_mp4) downloads.append(el('a', { href: h.replay_mp4, download: '' }, t('replay.download_mp4')));
  if (h.captions_vtt) downloads.append(el('a', { href: h.captions_vtt, download: '' }, t('replay.download_vtt')));
}

function canHls(video) {
  return nativeHls(video) || 'MediaSource' in window || 'ManagedMediaSource' in window;
}

/** A live stream starts silent (browsers allow only that); this button, on the picture, unmutes. */
function unmuteControl(video) {
  const button = $('#unmute-button');
  if (!button) return;
  const sync = () => { button.hidden = !video.muted; };
  button.onclick = () => { video.muted = false; video.play().catch(() => {}); sync(); };
  video.addEventListener('volumechange', sync);
  sync();
}

function setupPlayer() {
  const h = view.info;
  const video = $('#player');
  const message = $('#player-message');
  const live = h.live_playlist;
  let src = null;
  if (live) src = live;
  else if (h.replay_mp4) src = h.replay_mp4;
  else if (h.replay_playlist) src = h.replay_playlist;
  if (!src) {
    message.hidden = false;
    message.textContent = t(h.state === 'closed' ? 'replay.processing' : 'replay.not_on_air', { delay: Math.round(h.broadcast_delay || 0) });
    video.hidden = true;
    return;
  }
  view.player = true;
  video.hidden = false;
  message.hidden = true;
  if (src.includes('.m3u8') && !canHls(video)) {
    message.hidden = false;
    message.textContent = t('replay.no_hls');
    if (h.replay_mp4) src = h.replay_mp4; else return;
  }
  if (h.captions_vtt) {
    video.append(el('track', { kind: 'captions', src: h.captions_vtt, srclang: 'zh', label: t('replay.captions_label'), default: true }));
  }
  if (h.chapters_vtt) video.append(el('track', { kind: 'chapters', src: h.chapters_vtt, srclang: 'zh', label: t('replay.chapters') }));
  if (live) {
    // A live stream starts by itself, silent (browsers allow that); a button on it unmutes.
    video.muted = true;
    unmuteControl(video);
    playHls(video, src, { onFatal: () => { message.hidden = false; message.textContent = t('replay.play_error'); } })
      .then((player) => {
        view.hls = player;
        if (!player) { message.hidden = false; message.textContent = t('replay.no_hls'); return; }
        video.play().catch(() => {});
      });
  } else {
    video.src = src;
  }
  video.addEventListener('timeupdate', () => {
    const row = view.transcript && view.transcript.highlight(video.currentTime);
    if (row && !view.query && !row.matches(':hover')) {
      const list = $('#transcript-list');
      const top = row.offsetTop - list.offsetTop;
      if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - row.offsetHeight) list.scrollTop = top - 40;
    }
    for (const li of $('#chapters').children) {
      const c = view.chapters[Number(li.dataset.i)];
      li.classList.toggle('playing', c && video.currentTime >= c.start && video.currentTime < c.end);
    }
  });
  // Captions in the same place as on the participants' pages: below the picture, never over
  // the exhibit (the browser's own rendering over the video is switched off).
  video.textTracks.addEventListener('addtrack', (e) => showCaptions(e.track));
  for (const track of video.textTracks) showCaptions(track);
  // Live: the in-band captions become transcript lines as they arrive.
  if (live) {
    video.textTracks.addEventListener('addtrack', (e) => watchTrack(e.track));
    for (const track of video.textTracks) watchTrack(track);
  }
  let retries = 0;
  video.addEventListener('error', () => {
    if (view.hls && view.hls.engine === 'hls.js') return; // hls.js recovers by itself
    message.hidden = false;
    if (live && LIVE_STATES.includes(view.info.state)) {
      // A live playlist that has just begun (one or two segments) or a hiccup of the server:
      // try again shortly, as a player of a live stream should.
      message.textContent = t('replay.stream_retry');
      retries += 1;
      setTimeout(() => {
        video.src = `${src}${src.includes('?') ? '&' : '?'}retry=${retries}`;
        video.play().catch(() => {});
      }, Math.min(8000, 1500 * retries));
      return;
    }
    message.textContent = t('replay.play_error');
  });
  video.addEventListener('playing', () => { if (live) message.hidden = true; });
}

function showCaptions(track) {
  if (!['captions', 'subtitles'].includes(track.kind) || track.dataset_shown) return;
  track.dataset_shown = true;
  track.mode = 'hidden'; // cues still arrive; the page draws them
  const box = $('#captions');
  const render = () => {
    clear(box);
    const cues = Array.from(track.activeCues || []).slice(-2);
    for (const cue of cues) {
      const voice = /<v(?:\.[^ >]*)? ([^>]+)>/.exec(cue.text);
      const text = cue.text.replace(/<[^>]+>/g, '').trim();
      box.append(el('div', { class: 'caption-line' }, voice ? el('span', { class: 'caption-speaker' }, `${voice[1]}：`) : null, text));
    }
    box.hidden = cues.length === 0;
  };
  track.addEventListener('cuechange', render);
}

function watchTrack(track) {
  if (!['captions', 'subtitles'].includes(track.kind)) return;
  if (track.mode === 'disabled') track.mode = 'hidden';
  track.addEventListener('cuechange', () => {
    for (const cue of Array.from(track.activeCues || [])) {
      const [speaker, ...rest] = cue.text.replace(/<[^>]+>/g, '').split(/[:：]/);
      const text = rest.length ? rest.join('：') : speaker;
      view.transcript.apply({ id: `${cue.startTime}-${cue.id}`, start: cue.startTime, end: cue.endTime, text: text.trim(), name: rest.length ? speaker.trim() : '', final: true }, { caption: false });
    }
  });
}

async function loadTranscript() {
  const h = view.info;
  view.transcript = new TranscriptView($('#transcript-list'), {
    onSelect: (s) => { if (!LIVE_STATES.includes(view.info.state)) seek(Number(s.start) || 0); },
    emptyKey: LIVE_STATES.includes(h.state) ? 'replay.transcript_live' : 'replay.transcript_empty',
  });
  let segments = [];
  if (h.transcript) {
    const reply = await api(h.transcript);
    if (reply.ok) segments = typeof reply.data === 'string' ? parseVtt(reply.data) : segmentsOf(reply.data);
  }
  if (!segments.length && h.captions_vtt && !h.live_playlist) {
    const reply = await api(h.captions_vtt);
    if (reply.ok && typeof reply.data === 'string') segments = parseVtt(reply.data);
  }
  // Lines carry hearing time; the replay's own time (the video's) is `replay_start` when given.
  view.transcript.load(segments.map((s) => {
    const start = Number(s.replay_start ?? s.start) || 0;
    return { ...s, start, end: start + Math.max(0, (Number(s.end) || 0) - (Number(s.start) || 0)), final: true };
  }));
  await liveCaptions();
  search(view.query);
}

async function loadChapters() {
  const h = view.info;
  if (!h.chapters_vtt) return;
  const reply = await api(h.chapters_vtt);
  if (!reply.ok || typeof reply.data !== 'string') return;
  view.chapters = parseVtt(reply.data);
  const list = clear($('#chapters'));
  view.chapters.forEach((c, i) => list.append(el('li', { dataset: { i } },
    el('button', { type: 'button', class: 'link', onclick: () => seek(c.start) }, `${clock(c.start)} ${c.text}`))));
  $('#chapters-box').hidden = !view.chapters.length;
}

function seek(time) {
  const video = $('#player');
  if (!video.src) return;
  video.currentTime = time;
  video.play().catch(() => {});
}

function search(query) {
  view.query = query;
  if (!view.transcript) return;
  const n = view.transcript.search(query);
  $('#search-count').textContent = query.trim() ? t(n === 1 ? 'replay.match_one' : 'replay.matches', { n }) : '';
}

function boot() {
  initI18n();
  onLanguage(() => { if (view.status) say(view.status, view.status === 'not_found' ? 'info' : 'error'); render(); if (view.transcript) view.transcript.rerender(); search(view.query); });
  $('#transcript-search').addEventListener('input', (e) => search(e.target.value));
  if (!view.id) { say('not_found', 'info'); return; }
  load();
}

boot();
