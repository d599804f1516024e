// The live stream in any browser: hls.js (served by the pod from web/vendor/, fetched from npm
// at set-up, never a CDN) where Media Source Extensions exist, the browser's own HLS otherwise
// (iOS Safari). Both show the stream's WebVTT subtitles rendition on the video.

const HLS_SCRIPT = '/static/vendor/hls.js/hls.min.js';
let loading = null;

function loadHlsJs() {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = HLS_SCRIPT;
      script.onload = () => (window.Hls ? resolve(window.Hls) : reject(new Error('hls.js did not load')));
      script.onerror = () => reject(new Error('hls.js did not load'));
      document.head.append(script);
    });
  }
  return loading;
}

export function nativeHls(video) {
  return video.canPlayType('application/vnd.apple.mpegurl') !== '';
}

/**
 * Play a live HLS playlist in `video`. Returns { engine: 'hls.js'|'native', destroy } or
 * null when this browser can play it neither way. `onFatal` gets hls.js's unrecoverable errors.
 */
export async function playHls(video, src, { onFatal = () => {} } = {}) {
  const mse = 'MediaSource' in window || 'ManagedMediaSource' in window;
  if (mse) {
    try {
      const Hls = await loadHlsJs();
      if (Hls.isSupported()) {
        // No workers: the page's CSP allows scripts from this origin only, not blob: workers.
        // 2.5 s behind the live edge (hls.js's default is three target durations): a little
        // over one 2 s segment, so the next one arrives before the buffer runs dry, and the
        // public sees the hearing the broadcast delay plus under two segments late. Drifted
        // further (a stall), it plays slightly faster until it is back.
        const hls = new Hls({
          enableWorker: false, lowLatencyMode: false, subtitleDisplay: true,
          liveSyncDuration: 2.5, liveMaxLatencyDuration: 12, maxLiveSyncPlaybackRate: 1.1,
        });
        hls.on(Hls.Events.MANIFEST_PARSED, () => {
          if (hls.subtitleTracks.length) hls.subtitleTrack = 0; // captions on by default
        });
        hls.on(Hls.Events.ERROR, (_, data) => {
          if (!data.fatal) return;
          if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
          else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
          else onFatal(data);
        });
        hls.loadSource(src);
        hls.attachMedia(video);
        video.dataset.engine = 'hls.js';
        return { engine: 'hls.js', hls, destroy: () => hls.destroy() };
      }
    } catch { /* fall through to the browser's own player */ }
  }
  if (nativeHls(video)) {
    video.src = src;
    video.dataset.engine = 'native';
    return { engine: 'native', destroy: () => video.removeAttribute('src') };
  }
  return null;
}
