/* The drone panel and the drones on the map: position, heading, flown track, battery,
 * mission progress, live thermal view, and the state of an "eyes on" command. */
import { $, el, fmt, hasPosition } from "./util.js";
import { t, areaName } from "./i18n.js";
import { map, layers, TRACK_COLOURS } from "./map.js";
import { commandLine } from "./eyeson.js";

export const drones = new Map(); // key -> {view, card, marker, track, ...}

function ago(iso) {
  if (!iso) return t("ui.never");
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return t("ui.ago_s", { n: s });
  if (s < 3600) return t("ui.ago_min", { n: Math.round(s / 60) });
  return t("ui.ago_h", { n: Math.round(s / 3600) });
}

function droneIcon(view) {
  const heading = view.heading_deg || 0;
  const cls = "drone-marker link-" + view.link + (view.link === "offline" || view.link === "unknown" ? " offline" : "");
  const svg =
    '<svg viewBox="-15 -15 30 30"><g transform="rotate(' + Number(heading).toFixed(0) + ')">' +
    '<polygon points="0,-13 9,10 0,5 -9,10" fill="#3fe0c5" stroke="#000" stroke-width="1.5"/></g></svg>';
  return L.divIcon({ className: cls, iconSize: [30, 30], html: svg });
}

function entryOf(view) {
  let entry = drones.get(view.key);
  if (entry) return entry;
  const colour = TRACK_COLOURS[drones.size % TRACK_COLOURS.length];
  const video = el("img", { class: "video", alt: "thermal view of " + view.drone, hidden: "" });
  const noVideo = el("div", { class: "video none", text: t("ui.no_video") });
  const info = el("div", { class: "info" });
  const card = el("article", { class: "drone", dataset: { drone: view.key } }, el("div", { class: "media" }, video, noVideo), info);
  card.addEventListener("click", () => {
    const v = drones.get(view.key).view;
    if (hasPosition(v)) map.setView([v.latitude_deg, v.longitude_deg], Math.max(map.getZoom(), 17));
  });
  video.addEventListener("load", () => {
    entry.frameLoading = false;
    video.hidden = false;
    noVideo.hidden = true;
    if (entry.frameWanted > entry.frameShown) loadFrame(entry, entry.frameWanted);
  });
  video.addEventListener("error", () => (entry.frameLoading = false));
  const track = L.polyline([], { color: colour, weight: 2.5, opacity: 0.9, className: "track-line" }).addTo(layers.tracks);
  entry = { view, card, info, video, noVideo, colour, marker: null, track, frameLoading: false, frameShown: 0, frameWanted: 0 };
  drones.set(view.key, entry);
  const pane = $("drones");
  const empty = pane.querySelector(".empty");
  if (empty) empty.remove();
  pane.append(card);
  return entry;
}

function bar(fraction, cls) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  const span = el("span");
  span.style.width = pct + "%";
  return el("div", { class: "bar " + (cls || "") }, span);
}

export function renderDrone(entry) {
  const v = entry.view;
  const rows = [
    el("div", { class: "name" }, v.drone + " ", el("span", { class: "link", text: t("link." + v.link) })),
    el("div", { class: "row" }, t("ui.mode") + " ", el("b", { text: v.mode || "–" }), v.armed ? " · " + t("ui.armed") : v.armed === false ? " · " + t("ui.disarmed") : ""),
  ];
  const battery = v.battery_percent;
  const batteryRow = el("div", { class: "row" }, t("ui.battery") + " ", el("b", { text: battery === null || battery === undefined ? "–" : fmt(battery, 0) + " %" }));
  if (battery !== null && battery !== undefined) batteryRow.append(bar(battery / 100, battery < 25 ? "low" : battery < 50 ? "mid" : ""));
  rows.push(batteryRow);
  rows.push(el("div", { class: "row" }, t("ui.alt") + " ", el("b", { text: fmt(v.relative_altitude_m) + " " + t("unit.m") }), " · " + t("ui.speed") + " ", el("b", { text: fmt(v.ground_speed_m_s) + " " + t("unit.m_s") })));
  const mission = el("div", { class: "row" }, t("ui.mission") + " ");
  if (v.mission_state) mission.append(el("b", { text: v.mission_state }), " · ");
  if (v.mission_current_seq !== null && v.mission_current_seq !== undefined) {
    mission.append(el("b", { text: t("ui.item") + " " + v.mission_current_seq + (v.mission_count ? " / " + v.mission_count : "") }));
  } else if (!v.mission_state) mission.append(el("b", { text: "–" }));
  if (v.area) mission.append(" · " + areaName(v.area));
  if (v.mission_progress !== null && v.mission_progress !== undefined) {
    mission.append(el("span", { text: " " + Math.round(v.mission_progress * 100) + " %" }), bar(v.mission_progress, "progress"));
  }
  rows.push(mission);
  rows.push(el("div", { class: "row last-seen", text: t("ui.seen") + " " + ago(v.last_seen) }));
  const cmd = commandLine(v.key);
  if (cmd) rows.push(cmd);
  entry.card.className = "drone link-" + v.link;
  entry.info.replaceChildren(...rows);
}

export function onDrone(view, withTrack) {
  const entry = entryOf(view);
  const frameSeq = view.frame_seq || 0;
  entry.view = Object.assign({}, entry.view, view);
  if (withTrack && view.track) entry.track.setLatLngs(view.track);
  if (hasPosition(view)) {
    const latlng = [view.latitude_deg, view.longitude_deg];
    if (!entry.marker) {
      entry.marker = L.marker(latlng, { icon: droneIcon(entry.view), zIndexOffset: 500 }).addTo(layers.drones);
      entry.marker.bindTooltip(view.drone, { permanent: true, direction: "right", offset: [14, 0], className: "drone-label" });
    } else {
      entry.marker.setLatLng(latlng).setIcon(droneIcon(entry.view));
    }
    if (!withTrack) {
      const pts = entry.track.getLatLngs();
      const last = pts[pts.length - 1];
      if (!last || last.lat !== latlng[0] || last.lng !== latlng[1]) entry.track.addLatLng(latlng);
    }
  } else if (entry.marker) {
    entry.marker.setIcon(droneIcon(entry.view));
  }
  if (frameSeq > entry.frameShown) loadFrame(entry, frameSeq);
  renderDrone(entry);
}

function loadFrame(entry, seq) {
  entry.frameWanted = Math.max(entry.frameWanted, seq);
  if (entry.frameLoading) return;
  entry.frameLoading = true;
  entry.frameShown = entry.frameWanted;
  const v = entry.view;
  entry.video.src = "/api/drones/" + encodeURIComponent(v.site) + "/" + encodeURIComponent(v.drone) + "/frame.jpg?seq=" + entry.frameShown;
}

export function onFrame(data) {
  const entry = drones.get(data.key);
  if (entry) loadFrame(entry, data.seq);
  else onDrone({ key: data.key, site: data.site, drone: data.drone, link: "unknown", frame_seq: data.seq }, false);
}

/** Once a second: age the "seen" lines; a drone silent for longer than offline_after_s shows "no data". */
export function tickDrones(offlineAfterS) {
  const limit = (offlineAfterS || 10) * 1000;
  for (const entry of drones.values()) {
    const v = entry.view;
    if (v.link === "online" && v.last_seen && Date.now() - new Date(v.last_seen).getTime() > limit) {
      v.link = "stale";
      if (entry.marker) entry.marker.setIcon(droneIcon(v));
    }
    const seen = entry.card.querySelector(".last-seen");
    if (seen) seen.textContent = t("ui.seen") + " " + ago(v.last_seen);
    const badge = entry.card.querySelector(".link");
    if (badge) badge.textContent = t("link." + v.link);
    entry.card.className = "drone link-" + v.link;
  }
}

export function relabelDrones() {
  for (const entry of drones.values()) renderDrone(entry);
}
