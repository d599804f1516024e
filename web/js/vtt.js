// A small WebVTT reader: cues with start, end, text and the <v Speaker> voice when present.

function seconds(stamp) {
  const parts = stamp.trim().split(':').map(Number);
  if (parts.some((n) => Number.isNaN(n))) return NaN;
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}

export function parseVtt(text) {
  const cues = [];
  const blocks = String(text || '').replace(/\r\n?/g, '\n').split(/\n{2,}/);
  let n = 0;
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.length);
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0) continue;
    const [from, rest] = lines[at].split('-->');
    const to = rest.trim().split(/\s+/)[0];
    const start = seconds(from);
    const end = seconds(to);
    if (Number.isNaN(start)) continue;
    let body = lines.slice(at + 1).join(' ');
    let speaker = '';
    const voice = body.match(/^<v(?:\.[^\s>]*)?\s+([^>]+)>/);
    if (voice) speaker = voice[1].trim();
    body = body.replace(/<[^>]+>/g, '').trim();
    const id = at > 0 ? lines[0].trim() : `cue-${n}`;
    n += 1;
    cues.push({ id, start, end, text: body, name: speaker, final: true });
  }
  return cues;
}
