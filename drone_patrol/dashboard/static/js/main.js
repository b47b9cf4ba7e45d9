/* drone-patrol command-room dashboard: start-up, the live event stream, the clock.
 *
 * Data: /api/config, /api/areas, /api/alerts, /api/drones, and the server-sent
 * event stream /api/events (alert, drone, frame, command, broker, reload).
 * Everything from the drones is untrusted text: it goes in with textContent only.
 */
import { $, api, pad, toast, dateTime } from "./util.js";
import { t, pickLanguage, setLanguage, language, onLanguage, setAreaNames } from "./i18n.js";
import { initMap, drawAreas, map } from "./map.js";
import { initSound } from "./sound.js";
import { initAlerts, onIncident, relabel, realert, markerOf, incidents, shownAt, setFitted } from "./alerts.js";
import { openDetail, refresh } from "./detail.js";
import { drones, onDrone, onFrame, tickDrones, relabelDrones, renderDrone } from "./drones.js";
import { initEyesOn, eyesOn, onCommand } from "./eyeson.js";

const state = { config: {}, selected: null, since: null };

function select(incidentId, centre, fromMarker) {
  state.selected = incidentId;
  $("alerts").dataset.selected = incidentId;
  for (const node of $("alerts").children) node.classList.toggle("selected", node.dataset.incident === incidentId);
  const row = incidents.get(incidentId);
  const marker = markerOf(incidentId);
  if (!fromMarker && marker && map.hasLayer(marker)) marker.openPopup();
  if (centre && row && row.latitude_deg !== null && row.latitude_deg !== undefined) {
    // After the popup, whose auto-pan would move the map off the alert.
    map.setView([row.latitude_deg, row.longitude_deg], Math.max(map.getZoom(), 18), { animate: false });
    if (marker && map.hasLayer(marker) && !marker.isPopupOpen()) marker.openPopup();
  }
  if (!centre) {
    const li = $("alerts").querySelector('li[data-incident="' + CSS.escape(incidentId) + '"]');
    if (li) li.scrollIntoView({ block: "nearest" });
  }
  openDetail(incidentId);
}

function setPill(id, key, ok) {
  const pill = $(id);
  pill.dataset.i18n = key;
  pill.textContent = t(key);
  pill.classList.toggle("ok", ok === true);
  pill.classList.toggle("bad", ok === false);
}

function showSince() {
  if (state.since !== null) $("alerts-since").textContent = t("ui.since") + " " + dateTime(new Date(state.since * 1000).toISOString());
}

async function resync() {
  try {
    const [alerts, fleet] = await Promise.all([api("/api/alerts"), api("/api/drones")]);
    for (const row of alerts.alerts.slice().reverse()) onIncident(row, false);
    for (const view of fleet.drones) {
      onDrone(view, true);
      if (view.command) onCommand(Object.assign({ key: view.key }, view.command));
    }
    state.since = alerts.since;
    showSince();
    if (state.selected) refresh(state.selected);
  } catch (e) {
    toast("/api/alerts: " + e.message);
  }
}

function connect() {
  const stream = new EventSource("/api/events");
  stream.onopen = () => {
    setPill("link-page", "ui.page_live", true);
    resync();
  };
  stream.onerror = () => {
    setPill("link-page", "ui.page_reconnecting", false);
    if (stream.readyState === EventSource.CLOSED) {
      // The server refused the stream (signed out?): check, then try again.
      setTimeout(() => api("/api/config").then(() => connect(), () => setTimeout(connect, 5000)), 2000);
    }
  };
  stream.addEventListener("alert", (e) => {
    const row = JSON.parse(e.data);
    if (onIncident(row, true)) refresh(row.incident_id);
  });
  stream.addEventListener("drone", (e) => onDrone(JSON.parse(e.data), false));
  stream.addEventListener("frame", (e) => onFrame(JSON.parse(e.data)));
  stream.addEventListener("command", (e) => onCommand(JSON.parse(e.data)));
  stream.addEventListener("broker", (e) => {
    const d = JSON.parse(e.data);
    setPill("link-broker", d.connected ? "ui.broker_up" : "ui.broker_down", d.connected);
  });
  stream.addEventListener("reload", () => {
    stream.close();
    location.reload();
  });
}

function tick() {
  const now = new Date();
  $("clock").textContent = now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" + pad(now.getDate()) + " " + pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
  tickDrones(state.config.offline_after_s);
  realert();
}

/** The shift report links: the time range of the filters (default: the history shown), in the page's language. */
function reportLink() {
  let query = "lang=" + encodeURIComponent(language());
  for (const [id, name] of [["f-from", "since"], ["f-until", "until"]]) {
    const value = $(id).value;
    if (value) query += "&" + name + "=" + encodeURIComponent(new Date(value).toISOString());
  }
  $("report-link").href = "/api/report?format=html&" + query;
  $("report-csv").href = "/api/report?format=csv&" + query;
}

async function main() {
  await setLanguage(pickLanguage(), false);
  const cfg = await api("/api/config");
  state.config = cfg;
  $("site-name").textContent = cfg.site === "+" ? "*" : cfg.site;
  if (cfg.operator) $("operator").textContent = cfg.operator;
  $("logout").hidden = !cfg.auth;
  $("lang").value = language();
  $("lang").addEventListener("change", (e) => setLanguage(e.target.value, true));
  initSound(cfg.sound);
  initMap(cfg, (latlng) => eyesOn(latlng.lat, latlng.lng, null));
  initAlerts(cfg, select);
  initEyesOn(
    () => Array.from(drones.keys()),
    (key) => {
      const entry = drones.get(key);
      if (entry) renderDrone(entry);
      if (state.selected) refresh(state.selected);
    },
    cfg.can_command
  );
  onLanguage(() => {
    relabel();
    relabelDrones();
    showSince();
    reportLink();
    if (state.selected) refresh(state.selected);
  });
  reportLink();
  for (const id of ["f-from", "f-until"]) $(id).addEventListener("change", reportLink);
  try {
    const doc = await api("/api/areas");
    setAreaNames(doc.areas.features);
    if (drawAreas(doc, true)) setFitted();
    relabel();
  } catch (e) {
    toast("/api/areas: " + e.message);
  }
  connect();
  tick();
  setInterval(tick, 1000);
}

window.dronePatrol = { state: Object.assign(state, { incidents, shownAt }), map: () => map, select };
main().catch((e) => toast("Dashboard failed to start: " + e.message));
