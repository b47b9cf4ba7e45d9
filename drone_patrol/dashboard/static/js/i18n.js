/* Translations: Simplified Chinese and English, chosen from the browser's language or the switch.
 *
 * The tables are /static/i18n/<lang>.json (the server's shift report uses the same
 * files). Elements with data-i18n="key" get their text from the table, those with
 * data-i18n-placeholder="key" their placeholder.
 */

const LANGS = ["zh-CN", "en"];
let lang = "en";
let table = {};
let areaNames = {}; // area name -> Chinese display name (name_zh of the area file)
const listeners = [];

export function pickLanguage() {
  const saved = localStorage.getItem("dp-lang");
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    if (l.toLowerCase().startsWith("zh")) return "zh-CN";
    if (l.toLowerCase().startsWith("en")) return "en";
  }
  return "en";
}

export async function setLanguage(next, save) {
  const response = await fetch("/static/i18n/" + next + ".json", { credentials: "same-origin" });
  table = await response.json();
  lang = next;
  if (save) localStorage.setItem("dp-lang", next);
  document.documentElement.lang = next;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  document.title = t("app.title");
  for (const fn of listeners) fn(lang);
}

export function language() {
  return lang;
}

export function onLanguage(fn) {
  listeners.push(fn);
}

/** The text of ``key`` with {name} placeholders filled; the key itself when untranslated. */
export function t(key, vars) {
  let text = key in table ? table[key] : key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace("{" + k + "}", v);
  return text;
}

/** ``prefix.value`` translated, or the value itself (kinds, severities, states, steps). */
export function tv(prefix, value) {
  const key = prefix + "." + value;
  return key in table ? table[key] : String(value).replace(/_/g, " ");
}

export function setAreaNames(features) {
  areaNames = {};
  for (const f of features || []) if (f.properties && f.properties.name_zh) areaNames[f.properties.name] = f.properties.name_zh;
}

/** An area's display name: its name_zh in Chinese when the area file gives one. */
export function areaName(name) {
  if (!name) return name;
  return lang === "zh-CN" && areaNames[name] ? areaNames[name] : name;
}
