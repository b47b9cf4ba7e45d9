/* The detail panel of one incident: figures, full-size picture, response times, the dispatch
 * history and a button for each step that may follow; "eyes on" sends a drone to look. */
import { $, el, dateTime, minSec, postJson, toast, hasPosition } from "./util.js";
import { t, tv, areaName } from "./i18n.js";
import { incidents, onIncident, acknowledge, figuresNode, place, kindLabel, isClosed, summaryText } from "./alerts.js";
import { eyesOn, commandLine, canCommand } from "./eyeson.js";
import { ask } from "./dialog.js";

let current = null;

/** The steps that may follow ``state`` (the server checks again). */
function nextSteps(row) {
  if (isClosed(row)) return ["note"];
  const steps = ["dispatched"]; // again while on the way or on scene: reinforcements
  if (row.state === "dispatched") steps.push("on_scene");
  steps.push("resolved", "false_alarm", "duplicate", "note");
  return steps;
}

const BUTTON = { dispatched: "btn.dispatch", on_scene: "btn.on_scene", resolved: "btn.resolve", false_alarm: "btn.false_alarm", duplicate: "btn.duplicate", note: "btn.note" };

export async function takeStep(row, step) {
  const fields = [];
  if (step === "dispatched") fields.push({ name: "unit", label: t("prompt.unit"), required: true });
  if (step === "false_alarm" || step === "duplicate") fields.push({ name: "reason", label: t("prompt.reason"), required: true });
  fields.push({ name: "note", label: t("prompt.note"), type: "textarea", required: step === "note" });
  const values = await ask(t("step." + step) + " · " + kindLabel(row), fields);
  if (!values) return;
  try {
    const updated = await postJson("/api/alerts/" + encodeURIComponent(row.incident_id) + "/step", Object.assign({ step }, values));
    onIncident(updated, false);
    refresh();
  } catch (e) {
    toast(t("step." + step) + " " + t("ui.failed") + ": " + e.message);
  }
}

function responseTable(row) {
  const r = row.response || {};
  const table = el("table", { class: "response" });
  for (const stage of ["acknowledged", "dispatched", "on_scene", "closed"]) {
    table.append(el("tr", { dataset: { stage } }, el("th", { text: t("report.to_" + stage + "_s") }), el("td", { text: minSec(r["to_" + stage + "_s"]) })));
  }
  return table;
}

function historyList(row) {
  const list = el("ol", { class: "history" });
  for (const h of row.history || []) {
    const detail = [h.unit, h.reason, h.note].filter((x) => x).join(" · ");
    list.append(
      el(
        "li",
        { dataset: { step: h.step } },
        el("span", { class: "when", text: dateTime(h.time, true) }),
        " ",
        el("b", { text: tv("step", h.step) }),
        " " + t("ui.by") + " " + h.by,
        detail ? el("div", { class: "meta", text: detail }) : null
      )
    );
  }
  return list;
}

export function openDetail(incidentId) {
  current = incidentId;
  refresh();
}

export function closeDetail() {
  current = null;
  $("detail").hidden = true;
}

/** Redraw the panel (after any change to its incident or its drone). */
export function refresh(changedId) {
  if (!current || (changedId && changedId !== current)) return;
  const row = incidents.get(current);
  const panel = $("detail");
  if (!row) {
    panel.hidden = true;
    return;
  }
  const buttons = el("div", { class: "steps" });
  if (!row.acked && !isClosed(row)) {
    const b = el("button", { type: "button", class: "step ack", dataset: { step: "acknowledged" }, text: t("btn.acknowledge") });
    b.addEventListener("click", () => acknowledge(row, b).then(() => refresh()));
    buttons.append(b);
  }
  for (const step of nextSteps(row)) {
    buttons.append(el("button", { type: "button", class: "step", dataset: { step }, text: t(BUTTON[step]), onclick: () => takeStep(row, step) }));
  }
  const eyes = el("div", { class: "eyes-on" });
  if (hasPosition(row) && canCommand()) {
    eyes.append(el("button", { type: "button", class: "step eyes", text: t("btn.eyes_on"), onclick: () => eyesOn(row.latitude_deg, row.longitude_deg, row.site + "/" + row.drone) }));
  }
  const cmd = commandLine(row.site + "/" + row.drone);
  if (cmd) eyes.append(cmd);
  const summary = summaryText(row);
  const parts = [
    el("button", { type: "button", class: "close", text: "×", title: t("btn.close"), onclick: closeDetail }),
    el("h3", {}, el("span", { text: kindLabel(row) + " " }), el("span", { class: "sev sev-" + row.severity, text: tv("severity", row.severity) }), " ", el("span", { class: "state", text: tv("state", row.state) })),
    el("div", { class: "meta", text: dateTime(row.first_time) + " – " + dateTime(row.time) + " · " + row.drone + " · " + (areaName(row.area) || t("ui.outside_areas")) }),
    el("div", { class: "meta", text: place(row) }),
    row.thumbnail_url ? el("img", { class: "full", src: row.thumbnail_url, alt: "thumbnail" }) : null,
    summary ? el("p", { text: summary }) : null,
    figuresNode(row),
    row.units && row.units.length ? el("div", { class: "units" }, t("ui.units") + ": ", el("b", { text: row.units.join(" / ") })) : null,
    buttons,
    eyes,
    el("h4", { text: t("ui.response") }),
    responseTable(row),
    el("h4", { text: t("ui.history") }),
    historyList(row),
  ];
  panel.replaceChildren(...parts.filter((p) => p !== null));
  panel.dataset.incident = row.incident_id;
  panel.dataset.state = row.state;
  panel.hidden = false;
}
