/* One small modal form: ask(title, fields) resolves to the values entered, or null when cancelled. */
import { $, el } from "./util.js";
import { t } from "./i18n.js";

/** ``fields``: [{name, label, type, value, required, options: [[value, label]]}]. */
export function ask(title, fields) {
  const dialog = $("dialog");
  const form = el("form", { method: "dialog", class: "ask" }, el("h3", { text: title }));
  for (const f of fields) {
    let input;
    if (f.options) {
      input = el("select", { name: f.name });
      for (const [value, label] of f.options) input.append(el("option", { value, text: label }));
      if (f.value !== undefined) input.value = f.value;
    } else if (f.type === "textarea") {
      input = el("textarea", { name: f.name, rows: "3", maxlength: "1000" });
      input.value = f.value || "";
    } else {
      input = el("input", { name: f.name, type: f.type || "text", maxlength: f.type === "number" ? null : "200" });
      if (f.value !== undefined) input.value = f.value;
    }
    if (f.required) input.required = true;
    form.append(el("label", {}, el("span", { text: f.label }), input));
  }
  const ok = el("button", { type: "submit", value: "ok", class: "primary", text: "OK" });
  const cancel = el("button", { type: "button", value: "cancel", text: t("btn.close") });
  form.append(el("div", { class: "buttons" }, cancel, ok));
  dialog.replaceChildren(form);
  return new Promise((resolve) => {
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      if (dialog.open) dialog.close();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("close", () => finish(null), { once: true });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const values = {};
      for (const f of fields) values[f.name] = form.elements[f.name].value;
      finish(values);
    });
    dialog.showModal();
    const first = form.querySelector("input, select, textarea");
    if (first) first.focus();
  });
}
