// Verify a file (/verify): SHA-256 in the browser (crypto.subtle), then GET /public/verify?sha256=.
// Without crypto.subtle (a page served over plain http), the file itself is sent to
// POST /public/verify instead, and the page says so.

import { $, el, clear, wallTime, bytes } from './util.js';
import { api } from './api.js';
import { t, tMaybe, initI18n, onLanguage } from './i18n.js';

const state = { file: null, hash: '', result: null };
window.courtroomVerify = state;

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function hashFile(file) {
  const progress = $('#verify-progress');
  progress.hidden = false;
  progress.removeAttribute('value');
  try {
    const hash = await sha256Hex(await file.arrayBuffer());
    state.hash = hash;
    $('#verify-hash').value = hash;
    return hash;
  } finally {
    progress.hidden = true;
  }
}

async function choose(file) {
  state.file = file;
  state.result = null;
  $('#verify-result').hidden = true;
  if (!file) return;
  if (window.crypto && crypto.subtle) await hashFile(file);
  else $('#verify-hash').value = '';
}

async function check(event) {
  event.preventDefault();
  const typed = $('#verify-hash').value.trim().toLowerCase();
  let reply;
  if (/^[0-9a-f]{64}$/.test(typed)) {
    state.hash = typed;
    reply = await api(`/public/verify?sha256=${typed}`);
  } else if (state.file && !(window.crypto && crypto.subtle)) {
    const form = new FormData();
    form.append('file', state.file, state.file.name);
    reply = await api('/public/verify', { method: 'POST', form });
  } else {
    show({ kind: 'invalid' });
    return;
  }
  if (reply.ok) show({ kind: 'answer', data: reply.data });
  else if (reply.status === 404) show({ kind: 'not_found', data: reply.data });
  else show({ kind: 'error', message: tMaybe(`error.${reply.error}`) || reply.message });
}

function depositsOf(data) {
  if (!data || typeof data !== 'object') return [];
  return Array.isArray(data.entries) ? data.entries : [];
}

function show(result) {
  state.result = result;
  const box = clear($('#verify-result'));
  box.hidden = false;
  const deposits = result.kind === 'answer' ? depositsOf(result.data) : [];
  const found = result.kind === 'answer' && result.data.deposited === true;
  const verdict = result.kind === 'answer' ? (found ? 'found' : 'not_found') : result.kind;
  box.dataset.verdict = verdict;
  box.className = `card result result-${verdict}`;
  box.append(el('h2', {}, t(`verify.verdict.${verdict}`)));
  if (state.hash) box.append(el('p', { class: 'mono small break' }, t('verify.digest', { sha: state.hash })));
  if (state.file) box.append(el('p', { class: 'muted small' }, `${state.file.name} · ${bytes(state.file.size)}`));
  if (result.kind === 'error' && result.message) box.append(el('p', {}, result.message));
  if (result.kind === 'not_found' && result.data && result.data.message) box.append(el('p', { class: 'muted small' }, result.data.message));
  for (const d of deposits) {
    const rows = [
      [t('verify.case_number'), d.case_number],
      // What it is, in words: the kind, and an exhibit's numbered label (never a file or hearing id).
      [t('verify.what'), [tMaybe(`verify.kind.${d.kind}`) || t('verify.kind.other'), d.kind === 'exhibit' ? d.name : ''].filter(Boolean).join(' · ')],
      [t('verify.when'), d.wall_time ? wallTime(d.wall_time, true) : ''],
      [t('verify.ledger_seq'), d.seq],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    const dl = el('dl', { class: 'facts' });
    for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, String(v)));
    box.append(dl);
  }
}

function boot() {
  initI18n();
  onLanguage(() => { if (state.result) show(state.result); });
  const input = $('#verify-file');
  input.addEventListener('change', () => choose(input.files[0] || null));
  const drop = $('#drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) choose(e.dataTransfer.files[0]);
  });
  $('#verify-form').addEventListener('submit', check);
  if (!(window.crypto && crypto.subtle)) {
    $('#verify-form').prepend(el('p', { class: 'notice notice-warn' }, t('verify.no_subtle')));
  }
}

boot();
