/* Alert sounds: on by default for critical and warning alerts, with a mute switch.
 *
 * Browsers start audio only after a user gesture on the page: until then a
 * banner asks for one click; the beeps queued meanwhile are not replayed.
 */
import { $ } from "./util.js";

let audio = null;
let enabled = true;

function context() {
  if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
  if (audio.state === "suspended") audio.resume();
  return audio;
}

function showBlocked() {
  const banner = $("sound-blocked");
  if (banner) banner.hidden = !(enabled && (!audio || audio.state !== "running"));
}

export function initSound(defaultOn) {
  const saved = localStorage.getItem("dp-sound");
  enabled = saved === null ? defaultOn !== false : saved === "1";
  const box = $("opt-sound");
  box.checked = enabled;
  box.addEventListener("change", () => {
    enabled = box.checked;
    localStorage.setItem("dp-sound", enabled ? "1" : "0");
    if (enabled) beep("info", true);
    showBlocked();
  });
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => {
      if (!enabled) return;
      try {
        context().resume().then(showBlocked);
      } catch (e) {
        /* no audio device */
      }
    });
  }
  try {
    if (enabled) context();
  } catch (e) {
    /* no audio device */
  }
  showBlocked();
}

export function soundOn() {
  return enabled;
}

/** Beep for an alert of ``severity`` (critical: three high beeps, warning: two; info only when forced). */
export function beep(severity, force) {
  if (!enabled || (severity === "info" && !force)) return;
  window.dronePatrolBeeps = (window.dronePatrolBeeps || 0) + 1; // for tests: how many alert sounds were played
  try {
    const ctx = context();
    showBlocked();
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
