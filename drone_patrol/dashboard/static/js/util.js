/* Small DOM, HTTP and formatting helpers shared by the dashboard's modules. */

export const $ = (id) => document.getElementById(id);

/** A DOM element; text goes in with textContent only (everything from the drones is untrusted). */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

export async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (response.status === 401) {
    location.href = "/login";
    throw new Error("signed out");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) throw new Error((body && body.error) || response.status + " " + response.statusText);
  return body;
}

export function postJson(path, value) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value || {}) });
}

export function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 6000);
}

export function pad(n) {
  return String(n).padStart(2, "0");
}

/** Local time of day, HH:MM:SS. */
export function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

/** Local date and time, YYYY-MM-DD HH:MM:SS (the date is left out for today when short). */
export function dateTime(iso, short) {
  if (!iso) return "";
  const d = new Date(iso);
  const day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  const today = new Date();
  if (short && d.toDateString() === today.toDateString()) return clock(iso);
  return day + " " + clock(iso);
}

export function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return v.toFixed(digits === undefined ? 1 : digits).replace(/\.0+$/, "");
  return String(v);
}

/** Seconds as m:ss. */
export function minSec(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  return Math.floor(s / 60) + ":" + pad(s % 60);
}

export function hasPosition(row) {
  return row && row.latitude_deg !== null && row.latitude_deg !== undefined;
}
