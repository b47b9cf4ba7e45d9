/* The incident list and the alert markers: rows, filters and search, counts, re-alerts. */
import { $, el, clock, dateTime, fmt, hasPosition, postJson, toast } from "./util.js";
import { t, tv, areaName, language } from "./i18n.js";
import { map, layers, KIND_COLOUR } from "./map.js";
import { beep } from "./sound.js";

const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 };
const ICON_SIZE = { critical: 28, warning: 22, info: 18 };
const CLOSED = new Set(["resolved", "false_alarm", "duplicate"]);

export const incidents = new Map(); // incident_id -> row
const markers = new Map(); // incident_id -> {marker, circle}
export const shownAt = {}; // incident_id -> epoch ms when first shown (latency checks)
const soundedAt = {}; // incident_id -> epoch ms of its last sound
let selectHandler = () => {};
let config = {};
let fitted = false;

export function initAlerts(cfg, onSelect) {
  config = cfg;
  selectHandler = onSelect;
  for (const id of ["f-kind", "f-severity", "f-state", "f-drone", "f-area", "f-from", "f-until", "f-search", "opt-show-closed"]) {
    $(id).addEventListener(id === "f-search" ? "input" : "change", applyFilters);
  }
  fillStaticFilters();
}

export function isClosed(row) {
  return CLOSED.has(row.state) || row.status === "closed";
}

function fillStaticFilters() {
  const fill = (id, prefix, values, allKey) => {
    const select = $(id);
    const current = select.value;
    select.replaceChildren(el("option", { value: "", text: t(allKey) }), ...values.map((v) => el("option", { value: v, text: tv(prefix, v) })));
    select.value = current;
  };
  fill("f-kind", "kind", Object.keys(KIND_COLOUR), "ui.all_kinds");
  fill("f-severity", "severity", ["critical", "warning", "info"], "ui.all_severities");
  fill("f-state", "state", ["new", "acknowledged", "dispatched", "on_scene", "resolved", "false_alarm", "duplicate"], "ui.all_states");
  fillDynamicFilters();
}

function fillDynamicFilters() {
  const drones = new Set();
  const areas = new Set();
  for (const row of incidents.values()) {
    drones.add(row.drone);
    if (row.area) areas.add(row.area);
  }
  for (const [id, values, allKey, label] of [
    ["f-drone", drones, "ui.all_drones", (v) => v],
    ["f-area", areas, "ui.all_areas", areaName],
  ]) {
    const select = $(id);
    const current = select.value;
    const have = Array.from(select.options).map((o) => o.value).join("|");
    const want = [""].concat(Array.from(values).sort()).join("|");
    if (have === want && select.options[0].textContent === t(allKey)) continue;
    select.replaceChildren(el("option", { value: "", text: t(allKey) }), ...Array.from(values).sort().map((v) => el("option", { value: v, text: label(v) })));
    select.value = current;
  }
}

export function relabel() {
  fillStaticFilters();
  for (const row of incidents.values()) placeInList(renderAlert(row, false), row);
  updateCounts();
}

/** Whether ``row`` passes the filters and the search box. */
function visible(row) {
  const value = (id) => $(id).value;
  if (value("f-kind") && row.kind !== value("f-kind")) return false;
  if (value("f-severity") && row.severity !== value("f-severity")) return false;
  if (value("f-state") && row.state !== value("f-state")) return false;
  if (value("f-drone") && row.drone !== value("f-drone")) return false;
  if (value("f-area") && row.area !== value("f-area")) return false;
  if (value("f-from") && row.time_s * 1000 < new Date(value("f-from")).getTime()) return false;
  if (value("f-until") && row.first_time_s * 1000 > new Date(value("f-until")).getTime()) return false;
  if (!$("opt-show-closed").checked && isClosed(row) && !value("f-state")) return false;
  const q = value("f-search").trim().toLowerCase();
  if (q) {
    const hay = [row.incident_id, row.event_id, row.drone, row.area, areaName(row.area), row.summary, tv("kind", row.kind), (row.units || []).join(" "), row.outcome_reason]
      .concat((row.history || []).map((h) => [h.note, h.by, h.unit, h.reason].join(" ")))
      .join(" ")
      .toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

export function applyFilters() {
  for (const node of $("alerts").children) {
    const row = incidents.get(node.dataset.incident);
    node.hidden = !row || !visible(row);
  }
  for (const [id, entry] of markers) showMarker(entry, incidents.get(id));
  updateCounts();
}

function version(row) {
  return row.updates * 10000 + (row.history || []).length * 2 + (row.acked ? 1 : 0);
}

function figureParts(row) {
  const units = [
    ["_per_m2", "unit.per_m2", "figure.density"],
    ["_c", "unit.c", null],
    ["_m_s", "unit.m_s", null],
    ["_m2", "unit.m2", null],
    ["_m", "unit.m", null],
    ["_s", "unit.s", null],
    ["_percent", "unit.percent", null],
  ];
  const out = [];
  const figures = row.figures || {};
  // Heat seen in automatic-gain (8-bit) video has no temperature: say so once, not "null °C".
  const unmeasured = figures.measurement === "agc_saturation";
  for (const [key, value] of Object.entries(figures)) {
    if (unmeasured && key === "measurement") continue;
    if (value === null || value === undefined) {
      if (key === "max_temperature_c") out.push([t("figure.max_temperature"), t("figure.no_temperature")]);
      continue; // any other figure without a value has nothing to show
    }
    let name = key;
    let unit = "";
    for (const [suffix, u] of units) {
      if (key.endsWith(suffix)) {
        name = key.slice(0, -suffix.length);
        unit = " " + t(u);
        break;
      }
    }
    const label = t("figure." + name) !== "figure." + name ? t("figure." + name) : name.replace(/_/g, " ");
    let text = (typeof value === "number" ? fmt(value, 1) : String(value)) + unit;
    if (key === "event") text = tv("event", value);
    else if (key === "last_seen" && typeof value === "string" && value) text = dateTime(value, true);
    out.push([label, text]);
  }
  if (row.confidence !== null && row.confidence !== undefined) out.push([t("figure.confidence"), Math.round(row.confidence * 100) + " %"]);
  return out;
}

export function figuresNode(row) {
  const figures = el("div", { class: "figures" });
  for (const [name, value] of figureParts(row)) {
    if (figures.childNodes.length) figures.append(" · ");
    figures.append(name + " ", el("b", { text: value }));
  }
  return figures;
}

export function place(row) {
  if (!hasPosition(row)) return t("ui.no_position");
  let text = row.latitude_deg.toFixed(6) + ", " + row.longitude_deg.toFixed(6);
  if (row.error_radius_m) text += " ±" + fmt(row.error_radius_m, 0) + " " + t("unit.m");
  return text;
}

/** The drone's own summary line: English text, shown on the English page; on another the kind,
 *  the event and the figures (translated) already say it, unless the kind is one it does not know. */
export function summaryText(row) {
  if (!row.summary) return "";
  const translated = t("kind." + row.kind) !== "kind." + row.kind;
  const known = translated && (row.kind !== "vehicle" || (row.figures && row.figures.event));
  return language() === "en" || !known ? row.summary : "";
}

export function kindLabel(row) {
  if (row.kind === "vehicle" && row.figures && row.figures.event) return tv("kind", row.kind) + ": " + tv("event", row.figures.event);
  return tv("kind", row.kind);
}

function statusLine(row) {
  const last = (row.history || []).filter((h) => h.step !== "note").slice(-1)[0];
  if (row.state === "new" || !last) return null;
  let text = tv("state", row.state);
  if (row.state === "acknowledged" || (last.step === "acknowledged" && row.acked)) {
    return el("span", { class: "acked-by", text: "✔ " + t("state.acknowledged") + " " + t("ui.by") + " " + (row.acked_by || last.by) + " " + t("ui.at") + " " + clock(row.acked_at || last.time) });
  }
  if (row.units && row.units.length) text += " · " + row.units.join(" / ");
  if (row.outcome_reason) text += " · " + row.outcome_reason;
  return el("span", { class: "state-line", text: text + " · " + last.by + " " + clock(last.time) });
}

export async function acknowledge(row, button) {
  if (button) {
    button.disabled = true;
    button.textContent = t("ui.sending");
  }
  try {
    onIncident(await postJson("/api/alerts/" + encodeURIComponent(row.event_id) + "/ack", {}), false);
  } catch (e) {
    toast(t("btn.acknowledge") + " " + t("ui.failed") + ": " + e.message);
    if (button) {
      button.disabled = false;
      button.textContent = t("btn.acknowledge");
    }
  }
}

function renderAlert(row, fresh) {
  const thumb = row.thumbnail_url
    ? el("img", { class: "thumb", src: row.thumbnail_url, alt: "thumbnail", loading: "lazy" })
    : el("div", { class: "thumb none", text: t("ui.no_image") });
  const actions = el("div", { class: "actions" });
  if (!row.acked && !isClosed(row)) {
    const button = el("button", { class: "ack", type: "button", text: t("btn.acknowledge") });
    button.addEventListener("click", (ev) => {
      ev.stopPropagation();
      acknowledge(row, button);
    });
    actions.append(button);
  }
  const line = statusLine(row);
  if (line) actions.append(line);
  else if (row.acked) actions.append(el("span", { class: "acked-by", text: "✔ " + t("state.acknowledged") + " " + t("ui.by") + " " + (row.acked_by || "?") + " " + t("ui.at") + " " + clock(row.acked_at) }));
  if (row.updates > 1) actions.append(el("span", { class: "meta", text: row.updates + " " + t("ui.messages") }));
  const figures = figuresNode(row);
  const summary = summaryText(row);
  const when = dateTime(row.time, true) + (row.first_time !== row.time ? " (" + t("ui.first") + " " + dateTime(row.first_time, true) + ")" : "");
  const li = el(
    "li",
    {
      class: ["alert", "kind-" + row.kind, "sev-" + row.severity, row.acked ? "acked" : "unacked", "state-" + row.state, isClosed(row) ? "closed" : ""].join(" ").trim(),
      dataset: { incident: row.incident_id, event: row.event_id, time: row.time_s, state: row.state },
      tabindex: "0",
      onclick: () => selectHandler(row.incident_id, true),
      onkeydown: (ev) => {
        if (ev.key === "Enter") selectHandler(row.incident_id, true);
      },
    },
    thumb,
    el(
      "div",
      { class: "body" },
      el("div", { class: "head" }, el("span", { class: "kind", text: kindLabel(row) }), el("span", { class: "sev", text: tv("severity", row.severity) }), row.state !== "new" ? el("span", { class: "state", text: tv("state", row.state) }) : null),
      el("div", { class: "meta", text: when + " · " + row.drone + " · " + (areaName(row.area) || t("ui.outside_areas")) }),
      el("div", { class: "meta", text: place(row) }),
      summary ? el("div", { class: "meta summary", text: summary }) : null,
      figures.childNodes.length ? figures : null,
      actions
    )
  );
  if (fresh) li.classList.add("fresh");
  if ($("alerts").dataset.selected === row.incident_id) li.classList.add("selected");
  li.hidden = !visible(row);
  return li;
}

function placeInList(li, row) {
  const list = $("alerts");
  const old = list.querySelector('li[data-incident="' + CSS.escape(row.incident_id) + '"]');
  if (old) old.remove();
  let before = null;
  for (const node of list.children) {
    if (Number(node.dataset.time) < row.time_s) {
      before = node;
      break;
    }
  }
  list.insertBefore(li, before);
}

function alertIcon(row) {
  const size = ICON_SIZE[row.severity] || 22;
  const cls = ["alert-marker", "kind-" + row.kind, "sev-" + row.severity, row.acked || isClosed(row) ? "acked" : "unacked"];
  return L.divIcon({ className: cls.join(" "), iconSize: [size, size], html: "" });
}

function tagMarker(incidentId) {
  const entry = markers.get(incidentId);
  const node = entry && entry.marker.getElement();
  if (node) {
    node.dataset.incident = incidentId;
    node.title = incidentId;
  }
}

function showMarker(entry, row) {
  const want = row && visible(row);
  const has = layers.alerts.hasLayer(entry.marker);
  if (want && !has) {
    layers.alerts.addLayer(entry.marker);
    layers.alert_rings.addLayer(entry.circle);
  } else if (!want && has) {
    layers.alerts.removeLayer(entry.marker);
    layers.alert_rings.removeLayer(entry.circle);
  }
}

export function popupContent(row) {
  const summary = summaryText(row);
  return el(
    "div",
    { class: "popup" },
    row.thumbnail_url ? el("img", { class: "popup-thumb", src: row.thumbnail_url, alt: "thumbnail" }) : null,
    el("b", { text: kindLabel(row) + " · " + tv("severity", row.severity) + " · " + tv("state", row.state) }),
    el("div", { text: dateTime(row.time, true) + " · " + row.drone + (row.area ? " · " + areaName(row.area) : "") }),
    summary ? el("div", { text: summary }) : null,
    figuresNode(row),
    el("div", { text: place(row) })
  );
}

function updateMarker(row) {
  if (!hasPosition(row)) return;
  let entry = markers.get(row.incident_id);
  const latlng = [row.latitude_deg, row.longitude_deg];
  if (!entry) {
    const marker = L.marker(latlng, { icon: alertIcon(row), zIndexOffset: 1000, riseOnHover: true });
    const circle = L.circle(latlng, { radius: row.error_radius_m || 0, color: KIND_COLOUR[row.kind] || "#fff", weight: 1, fillOpacity: 0.08, interactive: false });
    // The popup opens from its own click handler; the marker's click only selects (opening it here
    // as well made Leaflet's toggle close it again at once).
    marker.bindPopup(() => popupContent(incidents.get(row.incident_id)), { autoPan: true });
    marker.on("click", () => selectHandler(row.incident_id, false, true));
    marker.on("add", () => tagMarker(row.incident_id));
    entry = { marker, circle };
    markers.set(row.incident_id, entry);
  } else {
    entry.marker.setLatLng(latlng);
    entry.marker.setIcon(alertIcon(row));
    entry.circle.setLatLng(latlng).setRadius(row.error_radius_m || 0);
    if (entry.marker.isPopupOpen()) entry.marker.getPopup().setContent(popupContent(row));
  }
  showMarker(entry, row);
  tagMarker(row.incident_id);
  if (!fitted) {
    fitted = true;
    if (map.getZoom() < 10) map.setView(latlng, 17);
  }
}

export function markerOf(incidentId) {
  const entry = markers.get(incidentId);
  return entry ? entry.marker : null;
}

export function setFitted() {
  fitted = true;
}

/** Apply an incident row (from the stream when ``live``, else a load); returns whether it was newer. */
export function onIncident(row, live) {
  const old = incidents.get(row.incident_id);
  if (old && version(old) > version(row)) return false;
  const escalated = !old || SEVERITY_RANK[row.severity] > SEVERITY_RANK[old.severity];
  const fresh = live && !row.acked && (escalated || row.updates > (old ? old.updates : 0));
  incidents.set(row.incident_id, row);
  placeInList(renderAlert(row, fresh), row);
  updateMarker(row);
  if (!(row.incident_id in shownAt)) shownAt[row.incident_id] = Date.now();
  if (live && !row.acked && escalated && !isClosed(row)) {
    beep(row.severity);
    soundedAt[row.incident_id] = Date.now();
  }
  fillDynamicFilters();
  updateCounts();
  return true;
}

export function updateCounts() {
  let unacked = 0;
  let shown = 0;
  for (const row of incidents.values()) {
    if (!row.acked && !isClosed(row)) unacked++;
    if (visible(row)) shown++;
  }
  $("counts").replaceChildren(
    el("span", { class: "count" + (unacked ? " unacked" : ""), text: unacked + " " + t("ui.to_ack") }),
    el("span", { class: "count", text: shown + " / " + incidents.size + " " + t("ui.tonight") })
  );
  $("alerts-empty").hidden = shown > 0;
  document.title = (unacked ? "(" + unacked + ") " : "") + t("app.title");
}

/** Sound again for every incident nobody acknowledged within ``realert_after_s`` (once per period). */
export function realert() {
  const period = (config.realert_after_s || 60) * 1000;
  const now = Date.now();
  let loudest = null;
  for (const row of incidents.values()) {
    if (row.acked || isClosed(row) || row.severity === "info") continue;
    const since = soundedAt[row.incident_id] || shownAt[row.incident_id] || now;
    if (now - since < period) continue;
    soundedAt[row.incident_id] = now;
    const li = $("alerts").querySelector('li[data-incident="' + CSS.escape(row.incident_id) + '"]');
    if (li) {
      li.classList.remove("realert");
      void li.offsetWidth; // restart the animation
      li.classList.add("realert");
    }
    if (!loudest || SEVERITY_RANK[row.severity] > SEVERITY_RANK[loudest.severity]) loudest = row;
  }
  if (loudest) {
    beep(loudest.severity);
    toast(t("ui.unacked_again") + ": " + kindLabel(loudest) + " · " + (areaName(loudest.area) || loudest.drone));
  }
}
