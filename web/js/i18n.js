// UI language: Chinese first, English as a switch. Every text of the UI lives in
// /static/i18n/zh.js and /static/i18n/en.js; pages mark text with data-i18n attributes
// and scripts call t(key, {vars}).

import zh from '../i18n/zh.js';
import en from '../i18n/en.js';

const DICTS = { zh, en };
const STORAGE_KEY = 'courtroom.lang';
const listeners = new Set();

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && DICTS[saved]) return saved;
  } catch { /* storage may be blocked */ }
  const param = new URLSearchParams(location.search).get('lang');
  if (param && DICTS[param]) return param;
  return 'zh';
}

let lang = initialLanguage();

export function language() {
  return lang;
}

/** The text of `key` in the current language, with {name} placeholders filled. */
export function t(key, vars = {}) {
  let text = DICTS[lang][key];
  if (text === undefined) text = DICTS.zh[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : m));
}

/** t() for a key that may not exist (a server error code): null when unknown. */
export function tMaybe(key, vars = {}) {
  return DICTS[lang][key] !== undefined || DICTS.zh[key] !== undefined ? t(key, vars) : null;
}

export function roleName(role, side) {
  const base = t(`role.${role}`);
  if (role === 'agent' && side) return t('role.agent_of', { side: t(`role.${side}`) });
  return base;
}

/** Fill every [data-i18n], [data-i18n-placeholder], [data-i18n-title], [data-i18n-aria] under root. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
  for (const node of root.querySelectorAll('[data-i18n-aria]')) node.setAttribute('aria-label', t(node.dataset.i18nAria));
  const title = document.querySelector('title[data-i18n]');
  if (title) document.title = t(title.dataset.i18n);
}

export function setLanguage(next) {
  if (!DICTS[next] || next === lang) return;
  lang = next;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* ignore */ }
  applyI18n();
  for (const fn of listeners) fn(lang);
}

/** Call fn whenever the language changes (to re-render dynamic parts). */
export function onLanguage(fn) {
  listeners.add(fn);
}

/** Wire every .lang-switch button on the page and translate it. */
export function initI18n() {
  applyI18n();
  for (const button of document.querySelectorAll('.lang-switch')) {
    const update = () => {
      button.textContent = lang === 'zh' ? 'English' : '中文';
      button.setAttribute('aria-label', lang === 'zh' ? 'Switch to English' : '切换到中文');
    };
    update();
    button.addEventListener('click', () => setLanguage(lang === 'zh' ? 'en' : 'zh'));
    onLanguage(update);
  }
}
