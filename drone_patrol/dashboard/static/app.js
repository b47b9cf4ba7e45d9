/* drone-patrol command-room dashboard.
 *
 * Data: /api/config, /api/areas, /api/alerts, /api/drones, and the server-sent
 * event stream /api/events (alert, drone, frame, broker, reload). Everything
 * from the drones is untrusted text: it is put in the page with textContent only.
 */
"use strict";

(function () {
  const KIND_LABEL = { thermal_hotspot: "Thermal hotspot", crowd_gathering: "Crowd gathering", vehicle: "Vehicle" };
  const KIND_COLOUR = { thermal_hotspot: "#ff5a1f", crowd_gathering: "#b55cff", vehicle: "#2f9bff" };
  const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 };
  const ICON_SIZE = { critical: 28, warning: 22, info: 18 };
  const TRACK_COLOURS = ["#3fe0c5", "#ffd166", "#ef8fff", "#9bd1ff", "#c6ff8f"];

  const state = {
    config: {},
    incidents: new Map(), // incident_id -> row
    markers: new Map(), // incident_id -> {marker, circle}
    drones: new Map(), // key -> {view, card, marker, track, frameLoading, frameSeq}
    selected: null,
    fitted: false,
    audio: null,
    shownAt: {}, // incident_id -> epoch ms when first put on the map and in the list
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  async function api(path, options) {
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

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 6000);
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function clock(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return Math.round(s / 3600) + " h ago";
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number") return v.toFixed(digits === undefined ? 1 : digits).replace(/\.0+$/, "");
    return String(v);
  }

  function figureText(key, value) {
    const units = [
      ["_per_m2", " /m²"],
      ["_c", " °C"],
      ["_m_s", " m/s"],
      ["_m2", " m²"],
      ["_m", " m"],
      ["_s", " s"],
      ["_percent", " %"],
    ];
    let name = key;
    let unit = "";
    for (const [suffix, u] of units) {
      if (key.endsWith(suffix)) {
        name = key.slice(0, -suffix.length);
        unit = u;
        break;
      }
    }
    return [name.replace(/_/g, " "), (typeof value === "number" ? fmt(value, 1) : String(value)) + unit];
  }

  function place(row) {
    if (row.latitude_deg === null || row.latitude_deg === undefined) return "no position";
    let text = row.latitude_deg.toFixed(6) + ", " + row.longitude_deg.toFixed(6);
    if (row.error_radius_m) text += " ±" + fmt(row.error_radius_m, 0) + " m";
    return text;
  }

  /* ------------------------------------------------------------------ sound */

  function ensureAudio() {
    // Browsers start audio only after a user gesture: made on the first click or key press.
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    if (state.audio.state === "suspended") state.audio.resume();
    return state.audio;
  }

  function beep(severity) {
    if (!$("opt-sound").checked) return;
    try {
      const ctx = ensureAudio();
      const count = severity === "critical" ? 3 : severity === "warning" ? 2 : 1;
      const pitch = severity === "critical" ? 880 : severity === "warning" ? 660 : 520;
      for (let i = 0; i < count; i++) {
        const t0 = ctx.currentTime + i * 0.28;
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = pitch;
        gain.gain.setValueAtTime(0.0001, t0);
        gain.gain.exponentialRampToValueAtTime(0.3, t0 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.2);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t0);
        osc.stop(t0 + 0.22);
      }
    } catch (e) {
      /* no audio device: the highlight is still there */
    }
  }

  /* ------------------------------------------------------------------ map */

  let map;
  const layers = {};

  function initMap(cfg) {
    map = L.map("map", { zoomControl: true, maxZoom: 22, zoomSnap: 0.25 });
    if (cfg.tile_url) {
      L.tileLayer(cfg.tile_url, { maxZoom: cfg.tile_max_zoom || 19, attribution: cfg.tile_attribution || "" }).addTo(map);
    }
    for (const name of ["areas", "routes", "tracks", "drones", "alerts"]) layers[name] = L.layerGroup().addTo(map);
    L.control
      .layers(
        null,
        {
          "Key areas": layers.areas,
          "Planned routes": layers.routes,
          Tracks: layers.tracks,
          Drones: layers.drones,
          Alerts: layers.alerts,
        },
        { collapsed: false }
      )
      .addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    const legend = L.control({ position: "bottomleft" });
    legend.onAdd = () => {
      const div = el("div", { class: "legend" });
      for (const [kind, label] of Object.entries(KIND_LABEL)) {
        const dot = el("i");
        dot.style.background = KIND_COLOUR[kind];
        div.append(el("div", {}, dot, label));
      }
      div.append(el("div", { text: "ring: red critical · amber warning · blue info" }));
      return div;
    };
    legend.addTo(map);
    map.setView([0, 0], 2);
  }

  function areaStyle(feature) {
    const role = feature.properties.role;
    if (role === "no_fly") return { color: "#ff4d5e", weight: 2, dashArray: "6 4", fillColor: "#ff4d5e", fillOpacity: 0.18 };
    if (role === "heat_source") return { color: "#ffb020", weight: 1, fillColor: "#ffb020", fillOpacity: 0.35 };
    if (role === "rally") return { color: "#fff", weight: 2, fillColor: "#3fe0c5", fillOpacity: 1 };
    if (role === "home") return { color: "#fff", weight: 2, fillColor: "#33c07a", fillOpacity: 1 };
    const priority = feature.properties.priority || 3;
    return { color: "#4f86c6", weight: priority <= 1 ? 3 : 2, fillColor: "#4f86c6", fillOpacity: 0.07 };
  }

  function drawAreas(doc) {
    layers.areas.clearLayers();
    layers.routes.clearLayers();
    const areas = L.geoJSON(doc.areas, {
      style: areaStyle,
      pointToLayer: (feature, latlng) => {
        const p = feature.properties;
        if (p.radius_m) return L.circle(latlng, Object.assign({ radius: Math.max(p.radius_m, 2) }, areaStyle(feature)));
        return L.circleMarker(latlng, Object.assign({ radius: 7 }, areaStyle(feature)));
      },
      onEachFeature: (feature, layer) => {
        const p = feature.properties;
        const label = p.role === "patrol" || p.role === "no_fly" ? p.name : p.name + " (" + p.role.replace("_", " ") + ")";
        const permanent = p.role === "patrol" || p.role === "home" || p.role === "no_fly";
        layer.bindTooltip(label, { permanent, direction: "center", className: "area-label" });
      },
    }).addTo(layers.areas);
    const routes = L.geoJSON(doc.routes, {
      style: (feature) => {
        const p = feature.properties;
        if (p.kind === "fence") return { color: p.inclusion ? "#ffd166" : "#ff4d5e", weight: 1.5, dashArray: "2 6", fill: false, className: "fence-line" };
        if (p.kind === "route") return { color: "#3fe0c5", weight: 2, dashArray: "8 6", opacity: 0.8, className: "route-line" };
        return { radius: p.kind === "rally" ? 5 : 2.5, color: "#3fe0c5", weight: 1, fillOpacity: 0.9, className: "route-item" };
      },
      pointToLayer: (feature, latlng) => L.circleMarker(latlng),
      onEachFeature: (feature, layer) => {
        const p = feature.properties;
        if (p.kind === "route") layer.bindTooltip("route " + (p.name || p.file) + (p.sortie > 1 ? " #" + p.sortie : ""));
        if (p.kind === "mission_item") layer.bindTooltip("item " + p.seq + (p.area ? " · " + p.area : ""));
      },
    }).addTo(layers.routes);
    const bounds = areas.getBounds().extend(routes.getBounds());
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [20, 20] });
      state.fitted = true;
    }
  }

  function fitTo(latlng) {
    if (!state.fitted && latlng) {
      map.setView(latlng, 17);
      state.fitted = true;
    }
  }

  /* ------------------------------------------------------------------ alerts */

  function version(row) {
    return row.updates * 2 + (row.acked ? 1 : 0);
  }

  function alertIcon(row) {
    const size = ICON_SIZE[row.severity] || 22;
    const cls = ["alert-marker", "kind-" + row.kind, "sev-" + row.severity, row.acked ? "acked" : "unacked"];
    return L.divIcon({ className: cls.join(" "), iconSize: [size, size], html: "" });
  }

  function popupContent(row) {
    const figures = Object.entries(row.figures || {}).map(([k, v]) => figureText(k, v).join(": "));
    return el(
      "div",
      { class: "popup" },
      row.thumbnail_url ? el("img", { class: "popup-thumb", src: row.thumbnail_url, alt: "thumbnail" }) : null,
      el("b", { text: (KIND_LABEL[row.kind] || row.kind) + " · " + row.severity }),
      el("div", { text: clock(row.time) + " · " + row.drone + (row.area ? " · " + row.area : "") }),
      row.summary ? el("div", { text: row.summary }) : null,
      figures.length ? el("div", { text: figures.join(" · ") }) : null,
      el("div", { text: place(row) })
    );
  }

  function updateMarker(row) {
    let entry = state.markers.get(row.incident_id);
    if (row.latitude_deg === null || row.latitude_deg === undefined) return;
    const latlng = [row.latitude_deg, row.longitude_deg];
    if (!entry) {
      const marker = L.marker(latlng, { icon: alertIcon(row), zIndexOffset: 1000, riseOnHover: true });
      const circle = L.circle(latlng, { radius: row.error_radius_m || 0, color: KIND_COLOUR[row.kind] || "#fff", weight: 1, fillOpacity: 0.08, interactive: false });
      marker.on("click", () => select(row.incident_id, false));
      marker.on("add", () => tagMarker(row.incident_id));
      circle.addTo(layers.alerts);
      entry = { marker, circle };
      state.markers.set(row.incident_id, entry);
      marker.bindPopup(() => popupContent(state.incidents.get(row.incident_id)));
      marker.addTo(layers.alerts);
    } else {
      entry.marker.setLatLng(latlng);
      entry.marker.setIcon(alertIcon(row));
      entry.circle.setLatLng(latlng).setRadius(row.error_radius_m || 0);
    }
    tagMarker(row.incident_id);
    fitTo(latlng);
  }

  function tagMarker(incidentId) {
    const entry = state.markers.get(incidentId);
    const node = entry && entry.marker.getElement();
    if (node) {
      node.dataset.incident = incidentId;
      node.title = incidentId;
    }
  }

  function renderAlert(row, fresh) {
    const thumb = row.thumbnail_url
      ? el("img", { class: "thumb", src: row.thumbnail_url, alt: "thumbnail", loading: "lazy" })
      : el("div", { class: "thumb none", text: "no image" });
    const figures = el("div", { class: "figures" });
    for (const [k, v] of Object.entries(row.figures || {})) {
      const [name, value] = figureText(k, v);
      if (figures.childNodes.length) figures.append(" · ");
      figures.append(name + " ", el("b", { text: value }));
    }
    if (row.confidence !== null && row.confidence !== undefined) {
      if (figures.childNodes.length) figures.append(" · ");
      figures.append("confidence ", el("b", { text: Math.round(row.confidence * 100) + " %" }));
    }
    const actions = el("div", { class: "actions" });
    if (row.acked) {
      actions.append(el("span", { class: "acked-by", text: "✔ acknowledged by " + (row.acked_by || "?") + " at " + clock(row.acked_at) }));
    } else {
      const button = el("button", { class: "ack", type: "button", text: "Acknowledge" });
      button.addEventListener("click", (ev) => {
        ev.stopPropagation();
        acknowledge(row, button);
      });
      actions.append(button);
    }
    if (row.updates > 1) actions.append(el("span", { class: "meta", text: row.updates + " messages" }));
    const status = row.status !== "new" ? el("span", { class: "meta", text: row.status }) : null;
    const li = el(
      "li",
      {
        class: ["alert", "kind-" + row.kind, "sev-" + row.severity, row.acked ? "acked" : "unacked", row.status === "closed" ? "closed" : ""].join(" ").trim(),
        dataset: { incident: row.incident_id, event: row.event_id, time: row.time_s },
        tabindex: "0",
        onclick: () => select(row.incident_id, true),
        onkeydown: (ev) => {
          if (ev.key === "Enter") select(row.incident_id, true);
        },
      },
      thumb,
      el(
        "div",
        { class: "body" },
        el("div", { class: "head" }, el("span", { class: "kind", text: KIND_LABEL[row.kind] || row.kind }), el("span", { class: "sev", text: row.severity }), status),
        el("div", { class: "meta", text: clock(row.time) + (row.first_time !== row.time ? " (first " + clock(row.first_time) + ")" : "") + " · " + row.drone + " · " + (row.area || "outside key areas") }),
        el("div", { class: "meta", text: place(row) }),
        row.summary ? el("div", { class: "meta summary", text: row.summary }) : null,
        figures.childNodes.length ? figures : null,
        actions
      )
    );
    if (fresh) li.classList.add("fresh");
    if (state.selected === row.incident_id) li.classList.add("selected");
    if (!row.acked || $("opt-show-acked").checked) li.hidden = false;
    else li.hidden = true;
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
    $("alerts-empty").hidden = list.children.length > 0;
  }

  function onIncident(row, live) {
    const old = state.incidents.get(row.incident_id);
    if (old && version(old) > version(row)) return;
    const escalated = !old || SEVERITY_RANK[row.severity] > SEVERITY_RANK[old.severity];
    const fresh = live && !row.acked && (escalated || row.updates > (old ? old.updates : 0));
    state.incidents.set(row.incident_id, row);
    placeInList(renderAlert(row, fresh), row);
    updateMarker(row);
    if (!(row.incident_id in state.shownAt)) state.shownAt[row.incident_id] = Date.now(); // for latency checks
    if (live && !row.acked && escalated) beep(row.severity);
    updateCounts();
  }

  function updateCounts() {
    let unacked = 0;
    for (const row of state.incidents.values()) if (!row.acked && row.status !== "closed") unacked++;
    const counts = $("counts");
    counts.replaceChildren(
      el("span", { class: "count" + (unacked ? " unacked" : ""), text: unacked + " to acknowledge" }),
      el("span", { class: "count", text: state.incidents.size + " tonight" })
    );
    document.title = (unacked ? "(" + unacked + ") " : "") + "drone-patrol command room";
  }

  function select(incidentId, centre) {
    state.selected = incidentId;
    for (const node of $("alerts").children) node.classList.toggle("selected", node.dataset.incident === incidentId);
    const row = state.incidents.get(incidentId);
    const entry = state.markers.get(incidentId);
    if (entry) entry.marker.openPopup();
    if (centre && row && row.latitude_deg !== null && row.latitude_deg !== undefined) {
      // After the popup, whose auto-pan would move the map off the alert.
      map.setView([row.latitude_deg, row.longitude_deg], Math.max(map.getZoom(), 18), { animate: false });
    }
    if (!centre) {
      const li = $("alerts").querySelector('li[data-incident="' + CSS.escape(incidentId) + '"]');
      if (li) li.scrollIntoView({ block: "nearest" });
    }
  }

  async function acknowledge(row, button) {
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const updated = await api("/api/alerts/" + encodeURIComponent(row.event_id) + "/ack", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      onIncident(updated, false);
    } catch (e) {
      toast("Acknowledge failed: " + e.message);
      button.disabled = false;
      button.textContent = "Acknowledge";
    }
  }

  /* ------------------------------------------------------------------ drones */

  function droneIcon(view) {
    const heading = view.heading_deg || 0;
    const cls = "drone-marker " + (view.link === "offline" ? "offline" : "");
    const svg =
      '<svg viewBox="-15 -15 30 30"><g transform="rotate(' + Number(heading).toFixed(0) + ')">' +
      '<polygon points="0,-13 9,10 0,5 -9,10" fill="#3fe0c5" stroke="#000" stroke-width="1.5"/></g></svg>';
    return L.divIcon({ className: cls, iconSize: [30, 30], html: svg });
  }

  function droneEntry(view) {
    let entry = state.drones.get(view.key);
    if (entry) return entry;
    const colour = TRACK_COLOURS[state.drones.size % TRACK_COLOURS.length];
    const video = el("img", { class: "video", alt: "thermal view of " + view.drone, hidden: "" });
    const noVideo = el("div", { class: "video none", text: "no video yet" });
    const info = el("div", { class: "info" });
    const card = el("article", { class: "drone", dataset: { drone: view.key } }, el("div", { class: "media" }, video, noVideo), info);
    card.addEventListener("click", () => {
      const v = state.drones.get(view.key).view;
      if (v.latitude_deg !== null && v.latitude_deg !== undefined) map.setView([v.latitude_deg, v.longitude_deg], Math.max(map.getZoom(), 17));
    });
    video.addEventListener("load", () => {
      entry.frameLoading = false;
      video.hidden = false;
      noVideo.hidden = true;
      if (entry.frameWanted > entry.frameShown) loadFrame(entry, entry.frameWanted);
    });
    video.addEventListener("error", () => (entry.frameLoading = false));
    entry = { view, card, info, video, noVideo, colour, marker: null, track: L.polyline([], { color: colour, weight: 2, opacity: 0.8 }).addTo(layers.tracks), frameLoading: false, frameShown: 0, frameWanted: 0 };
    state.drones.set(view.key, entry);
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

  function renderDrone(entry) {
    const v = entry.view;
    const rows = [
      el("div", { class: "name" }, v.drone + " ", el("span", { class: "link", text: v.link === "stale" ? "no data" : v.link })),
      el("div", { class: "row" }, "mode ", el("b", { text: v.mode || "–" }), v.armed ? " · armed" : v.armed === false ? " · disarmed" : ""),
    ];
    const battery = v.battery_percent;
    const batteryRow = el("div", { class: "row" }, "battery ", el("b", { text: battery === null || battery === undefined ? "–" : fmt(battery, 0) + " %" }));
    if (battery !== null && battery !== undefined) batteryRow.append(bar(battery / 100, battery < 25 ? "low" : battery < 50 ? "mid" : ""));
    rows.push(batteryRow);
    rows.push(el("div", { class: "row" }, "alt ", el("b", { text: fmt(v.relative_altitude_m) + " m" }), " · speed ", el("b", { text: fmt(v.ground_speed_m_s) + " m/s" })));
    const mission = el("div", { class: "row" }, "mission ");
    if (v.mission_state) mission.append(el("b", { text: v.mission_state }), " · ");
    if (v.mission_current_seq !== null && v.mission_current_seq !== undefined) {
      mission.append(el("b", { text: "item " + v.mission_current_seq + (v.mission_count ? " / " + v.mission_count : "") }));
    } else if (!v.mission_state) mission.append(el("b", { text: "–" }));
    if (v.area) mission.append(" · " + v.area);
    if (v.mission_progress !== null && v.mission_progress !== undefined) {
      mission.append(el("span", { text: " " + Math.round(v.mission_progress * 100) + " %" }), bar(v.mission_progress, "progress"));
    }
    rows.push(mission);
    rows.push(el("div", { class: "row last-seen", text: "seen " + ago(v.last_seen) }));
    entry.card.className = "drone link-" + v.link;
    entry.info.replaceChildren(...rows);
  }

  function onDrone(view, withTrack) {
    const entry = droneEntry(view);
    const frameSeq = view.frame_seq || 0;
    entry.view = Object.assign({}, entry.view, view);
    if (withTrack && view.track) entry.track.setLatLngs(view.track);
    if (view.latitude_deg !== null && view.latitude_deg !== undefined) {
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
      fitTo(latlng);
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

  function onFrame(data) {
    const entry = state.drones.get(data.key);
    if (entry) loadFrame(entry, data.seq);
    else onDrone({ key: data.key, site: data.site, drone: data.drone, link: "unknown", frame_seq: data.seq }, false);
  }

  function tick() {
    const now = new Date();
    $("clock").textContent = pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
    const limit = (state.config.offline_after_s || 10) * 1000;
    for (const entry of state.drones.values()) {
      const v = entry.view;
      if (v.link === "online" && v.last_seen && Date.now() - new Date(v.last_seen).getTime() > limit) v.link = "stale";
      const seen = entry.card.querySelector(".last-seen");
      if (seen) seen.textContent = "seen " + ago(v.last_seen);
      const badge = entry.card.querySelector(".link");
      if (badge) badge.textContent = v.link === "stale" ? "no data" : v.link;
      entry.card.className = "drone link-" + v.link;
    }
  }

  /* ------------------------------------------------------------------ live stream */

  function setPill(id, text, ok) {
    const pill = $(id);
    pill.textContent = text;
    pill.classList.toggle("ok", ok === true);
    pill.classList.toggle("bad", ok === false);
  }

  async function resync() {
    try {
      const [alerts, drones] = await Promise.all([api("/api/alerts"), api("/api/drones")]);
      for (const row of alerts.alerts.slice().reverse()) onIncident(row, false);
      for (const view of drones.drones) onDrone(view, true);
      $("alerts-since").textContent = "since " + clock(new Date(alerts.since * 1000).toISOString());
      updateCounts();
    } catch (e) {
      toast("Cannot load the alerts: " + e.message);
    }
  }

  function connect() {
    const stream = new EventSource("/api/events");
    stream.onopen = () => {
      setPill("link-page", "page: live", true);
      resync();
    };
    stream.onerror = () => {
      setPill("link-page", "page: reconnecting", false);
      if (stream.readyState === EventSource.CLOSED) {
        // The server refused the stream (signed out?): check, then try again.
        setTimeout(() => api("/api/config").then(() => connect(), () => setTimeout(connect, 5000)), 2000);
      }
    };
    stream.addEventListener("alert", (e) => onIncident(JSON.parse(e.data), true));
    stream.addEventListener("drone", (e) => onDrone(JSON.parse(e.data), false));
    stream.addEventListener("frame", (e) => onFrame(JSON.parse(e.data)));
    stream.addEventListener("broker", (e) => {
      const d = JSON.parse(e.data);
      setPill("link-broker", d.connected ? "broker: connected" : "broker: down", d.connected);
    });
    stream.addEventListener("reload", () => {
      stream.close();
      location.reload();
    });
  }

  async function main() {
    const cfg = await api("/api/config");
    state.config = cfg;
    $("site-name").textContent = cfg.site === "+" ? "all sites" : cfg.site;
    if (cfg.operator) $("operator").textContent = cfg.operator;
    $("logout").hidden = !cfg.auth;
    const sound = localStorage.getItem("dp-sound");
    $("opt-sound").checked = sound === null ? !!cfg.sound : sound === "1";
    $("opt-sound").addEventListener("change", (e) => {
      localStorage.setItem("dp-sound", e.target.checked ? "1" : "0");
      if (e.target.checked) beep("info");
    });
    for (const kind of ["pointerdown", "keydown"]) {
      document.addEventListener(kind, () => {
        if ($("opt-sound").checked) {
          try {
            ensureAudio();
          } catch (e) {
            /* no audio device */
          }
        }
      });
    }
    $("opt-show-acked").addEventListener("change", (e) => {
      for (const node of $("alerts").children) if (node.classList.contains("acked")) node.hidden = !e.target.checked;
    });
    initMap(cfg);
    try {
      drawAreas(await api("/api/areas"));
    } catch (e) {
      toast("Cannot load the key areas: " + e.message);
    }
    connect();
    tick();
    setInterval(tick, 1000);
  }

  window.dronePatrol = { state, map: () => map };
  main().catch((e) => toast("Dashboard failed to start: " + e.message));
})();
