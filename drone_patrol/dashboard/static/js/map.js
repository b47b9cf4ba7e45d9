/* The map: base layer (tile URL or the dashboard's offline MBTiles), key areas, no-fly zones,
 * known heat sources, geofence, planned routes, flown tracks, drones and clustered alerts,
 * with a legend for every layer. */
import { el } from "./util.js";
import { t, areaName, onLanguage } from "./i18n.js";

export const ROUTE_COLOUR = "#3fe0c5"; // planned: dashed teal
export const TRACK_COLOURS = ["#ff9f43", "#ef8fff", "#9bd1ff", "#c6ff8f", "#ffffff"]; // flown: solid, never teal
export const KIND_COLOUR = { thermal_hotspot: "#ff5a1f", crowd_gathering: "#b55cff", vehicle: "#2f9bff" };

export let map = null;
export const layers = {};
let areasDoc = null;
let layerControl = null;
let legend = null;

const LAYER_KEYS = ["areas", "no_fly", "heat", "fence", "routes", "tracks", "drones", "alerts"];

export function initMap(cfg, onPointMenu) {
  map = L.map("map", { zoomControl: true, maxZoom: 22, zoomSnap: 0.25 });
  if (cfg.tile_url) {
    L.tileLayer(cfg.tile_url, {
      maxZoom: 22,
      maxNativeZoom: cfg.tile_max_zoom || 19,
      attribution: cfg.tile_attribution || "",
    }).addTo(map);
  }
  for (const name of LAYER_KEYS) {
    layers[name] =
      name === "alerts"
        ? L.markerClusterGroup({ maxClusterRadius: 30, disableClusteringAtZoom: 19, showCoverageOnHover: false, spiderfyOnMaxZoom: true })
        : L.layerGroup();
    layers[name].addTo(map);
  }
  layers.alert_rings = L.layerGroup().addTo(map); // error circles, shown with the alerts
  map.on("overlayadd", (e) => e.layer === layers.alerts && map.addLayer(layers.alert_rings));
  map.on("overlayremove", (e) => e.layer === layers.alerts && map.removeLayer(layers.alert_rings));
  L.control.scale({ imperial: false }).addTo(map);
  buildControls();
  onLanguage(() => {
    buildControls();
    if (areasDoc) drawAreas(areasDoc, false);
  });
  map.on("contextmenu", (e) => onPointMenu(e.latlng));
  map.setView([0, 0], 2);
}

function swatch(style) {
  const i = el("i", { class: "swatch" });
  Object.assign(i.style, style);
  return i;
}

function buildControls() {
  if (layerControl) layerControl.remove();
  if (legend) legend.remove();
  const named = {};
  for (const key of LAYER_KEYS) named[t("layer." + key)] = layers[key];
  layerControl = L.control.layers(null, named, { collapsed: true, position: "topleft" }).addTo(map);
  legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const div = el("div", { class: "legend", id: "legend" });
    const line = (colour, dash) => ({ background: "none", borderTop: "3px " + (dash ? "dashed " : "solid ") + colour, borderRadius: "0", height: "0", width: "18px" });
    const rows = [
      ["areas", { background: "rgba(79,134,198,0.3)", border: "2px solid #4f86c6", borderRadius: "2px" }],
      ["no_fly", { background: "rgba(255,77,94,0.3)", border: "2px dashed #ff4d5e", borderRadius: "2px" }],
      ["heat", { background: "#ffb020" }],
      ["fence", line("#ffd166", true)],
      ["routes", line(ROUTE_COLOUR, true)],
      ["tracks", line(TRACK_COLOURS[0], false)],
      ["drones", { background: "#3fe0c5", clipPath: "polygon(50% 0, 100% 100%, 50% 75%, 0 100%)", borderRadius: "0" }],
    ];
    for (const [key, style] of rows) div.append(el("div", { dataset: { layer: key } }, swatch(style), t("layer." + key)));
    for (const kind of Object.keys(KIND_COLOUR)) {
      div.append(el("div", { dataset: { layer: "alerts" } }, swatch({ background: KIND_COLOUR[kind] }), t("kind." + kind)));
    }
    div.append(el("div", { text: t("legend.rings") }));
    div.append(el("div", { text: t("legend.cluster") }));
    return div;
  };
  legend.addTo(map);
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

function layerOfArea(role) {
  return role === "no_fly" ? layers.no_fly : role === "heat_source" ? layers.heat : layers.areas;
}

/** Draw the key areas and planned routes; ``fit`` moves the map onto them. Returns whether anything was drawn. */
export function drawAreas(doc, fit) {
  areasDoc = doc;
  for (const key of ["areas", "no_fly", "heat", "fence", "routes"]) layers[key].clearLayers();
  const bounds = L.latLngBounds([]);
  L.geoJSON(doc.areas, {
    style: areaStyle,
    pointToLayer: (feature, latlng) => {
      const p = feature.properties;
      if (p.radius_m) return L.circle(latlng, Object.assign({ radius: Math.max(p.radius_m, 2) }, areaStyle(feature)));
      return L.circleMarker(latlng, Object.assign({ radius: 7 }, areaStyle(feature)));
    },
    onEachFeature: (feature, layer) => {
      const p = feature.properties;
      const name = areaName(p.name);
      const label = p.role === "patrol" || p.role === "no_fly" ? name : name + " (" + t("layer." + (p.role === "heat_source" ? "heat" : p.role)).replace("layer.", "") + ")";
      const permanent = p.role === "patrol" || p.role === "home" || p.role === "no_fly";
      layer.bindTooltip(label, { permanent, direction: "center", className: "area-label" });
      layer.addTo(layerOfArea(p.role));
      if (layer.getBounds) bounds.extend(layer.getBounds());
      else bounds.extend(layer.getLatLng());
    },
  });
  L.geoJSON(doc.routes, {
    style: (feature) => {
      const p = feature.properties;
      if (p.kind === "fence") return { color: p.inclusion ? "#ffd166" : "#ff4d5e", weight: 1.5, dashArray: "2 6", fill: false, className: "fence-line" };
      if (p.kind === "route") return { color: ROUTE_COLOUR, weight: 2, dashArray: "8 6", opacity: 0.8, className: "route-line" };
      return { radius: p.kind === "rally" ? 5 : 2.5, color: ROUTE_COLOUR, weight: 1, fillOpacity: 0.9, className: "route-item" };
    },
    pointToLayer: (feature, latlng) => L.circleMarker(latlng),
    onEachFeature: (feature, layer) => {
      const p = feature.properties;
      if (p.kind === "route") layer.bindTooltip(t("layer.routes") + " " + (p.name || p.file) + (p.sortie > 1 ? " #" + p.sortie : ""));
      if (p.kind === "mission_item") layer.bindTooltip(t("ui.item") + " " + p.seq + (p.area ? " · " + areaName(p.area) : ""));
      layer.addTo(p.kind === "fence" ? layers.fence : layers.routes);
      if (layer.getBounds) bounds.extend(layer.getBounds());
      else bounds.extend(layer.getLatLng());
    },
  });
  if (fit && bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  return bounds.isValid();
}
