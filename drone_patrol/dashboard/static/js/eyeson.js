/* "Eyes on": ask a drone to fly to a point and watch it; show the drone's answers
 * (accepted, refused with the reason, on its way, on station, released, completed). */
import { el, postJson, toast, dateTime } from "./util.js";
import { t, tv } from "./i18n.js";
import { ask } from "./dialog.js";

export const commands = new Map(); // drone key -> latest command state
let drones = () => [];
let changed = () => {};
let allowed = false;

/** ``mayCommand``: whether this member of staff has the right to command drones (config.can_command). */
export function initEyesOn(listDrones, onChange, mayCommand) {
  drones = listDrones;
  changed = onChange;
  allowed = !!mayCommand;
}

export function canCommand() {
  return allowed;
}

export async function eyesOn(lat, lon, preferredKey) {
  if (!allowed) return;
  const keys = drones();
  if (!keys.length) {
    toast(t("ui.no_drone"));
    return;
  }
  const values = await ask(t("ui.eyes_on_here") + " (" + lat.toFixed(6) + ", " + lon.toFixed(6) + ")", [
    { name: "drone", label: t("report.col.drone"), options: keys.map((k) => [k, k]), value: keys.includes(preferredKey) ? preferredKey : keys[0] },
    { name: "duration_s", label: t("prompt.duration"), type: "number", value: "120", required: true },
  ]);
  if (!values) return;
  const [site, drone] = values.drone.split("/");
  try {
    await postJson("/api/drones/" + encodeURIComponent(site) + "/" + encodeURIComponent(drone) + "/command", {
      kind: "eyes_on",
      lat_deg: lat,
      lon_deg: lon,
      duration_s: Number(values.duration_s),
    });
  } catch (e) {
    toast(t("btn.eyes_on") + " " + t("ui.failed") + ": " + e.message);
  }
}

export async function release(key) {
  const cmd = commands.get(key);
  if (!cmd) return;
  const [site, drone] = key.split("/");
  try {
    await postJson("/api/drones/" + encodeURIComponent(site) + "/" + encodeURIComponent(drone) + "/command", { kind: "release", command_id: cmd.command_id });
  } catch (e) {
    toast(t("btn.release") + " " + t("ui.failed") + ": " + e.message);
  }
}

export function onCommand(data) {
  if (!data || !data.key) return;
  commands.set(data.key, data);
  changed(data.key);
}

/** A line with the latest command state of a drone and a release button while it watches, or null. */
export function commandLine(key) {
  const cmd = commands.get(key);
  if (!cmd) return null;
  const active = ["sent", "accepted", "en_route", "on_station"].includes(cmd.state);
  // the reason's code in the room's language, the drone's own words after it
  const reason = cmd.reason_code ? tv("reason", cmd.reason_code) + (cmd.reason_text ? ": " + cmd.reason_text : "") : "";
  const text = t("btn.eyes_on") + ": " + tv("command", cmd.state) + (reason ? " (" + reason + ")" : "") + (cmd.time ? " · " + dateTime(cmd.time, true) : "");
  return el(
    "div",
    { class: "command state-" + cmd.state, dataset: { command: cmd.command_id, state: cmd.state } },
    el("span", { text }),
    active && allowed ? el("button", { type: "button", class: "release", text: t("btn.release"), onclick: (ev) => (ev.stopPropagation(), release(key)) }) : null
  );
}
