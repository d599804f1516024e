// UI language: the court's, one for every page. The server writes it into the page's <html
// data-court-language> (Config.language: Chinese by default, English available). Every text of
// the UI lives in /static/i18n/zh.js and /static/i18n/en.js; pages mark text with data-i18n
// attributes and scripts call t(key, {vars}).

import zh from '../i18n/zh.js';
import en from '../i18n/en.js';

const DICTS = { zh, en };
const listeners = new Set();

function initialLanguage() {
  const court = document.documentElement.dataset.courtLanguage;
  return court && DICTS[court] ? court : 'zh';
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
  applyI18n();
  for (const fn of listeners) fn(lang);
}

/** Call fn whenever the language changes (to re-render dynamic parts). */
export function onLanguage(fn) {
  listeners.add(fn);
}

/** Translate the page into the court's language. */
export function initI18n() {
  applyI18n();
}

// Tests and screenshots look at a page in the other language without a second server.
window.courtroomSetLanguage = setLanguage;
