// @ts-check
// Small pieces the camera views share: a camera's state as a badge with
// its reason, and full screen for a tile or a live view.

import { h } from "../ui.js";
import { reasonKey } from "./cameras-model.js";

/** @typedef {import("../i18n.js").I18n} I18n */

/** The badge class of each camera state. */
export const STATE_CLASS = Object.freeze({
  online: "cam-state-online",
  degraded: "cam-state-degraded",
  offline: "cam-state-offline",
  unknown: "cam-state-unknown",
  disabled: "cam-state-disabled",
});

/**
 * reasonText is a state's reason in words ("" for none); a reason this
 * console does not know shows as civicd sent it.
 * @param {I18n} i18n
 * @param {string | undefined} reason
 * @returns {string}
 */
export function reasonText(i18n, reason) {
  if (!reason) return "";
  const key = reasonKey(reason);
  return key ? i18n.t(key) : reason;
}

/**
 * stateBadge is a camera's state as a badge, followed by its reason
 * while the camera is degraded, offline or unknown.
 * @param {I18n} i18n
 * @param {string} state
 * @param {string} [reason]
 * @returns {HTMLElement}
 */
export function stateBadge(i18n, state, reason) {
  const why = state !== "online" && state !== "disabled" ? reasonText(i18n, reason) : "";
  return h(
    "span",
    { class: "cam-state-line" },
    h("span", {
      class: `badge ${STATE_CLASS[/** @type {keyof typeof STATE_CLASS} */ (state)] ?? ""}`,
      testid: "camera-state",
      data: { state },
      text: i18n.t(`cam.state.${state}`),
    }),
    why ? h("span", { class: "cam-reason", testid: "camera-reason", data: { reason: reason ?? "" }, text: why }) : null,
  );
}

/**
 * toggleFullscreen shows el on the whole screen, or leaves full screen.
 * @param {HTMLElement} el
 */
export function toggleFullscreen(el) {
  if (document.fullscreenElement === el) {
    document.exitFullscreen().catch(() => {});
    return;
  }
  el.requestFullscreen?.().catch(() => {
    // Refused (no user gesture, or not allowed here): the view stays.
  });
}

/**
 * fullscreenButton is the small button over a live view that shows it on
 * the whole screen (its icon is drawn in CSS; no font has it everywhere).
 * @param {string} testid
 * @returns {HTMLButtonElement}
 */
export function fullscreenButton(testid) {
  return h(
    "button",
    { class: "cam-tile-btn", testid, i18nTitle: "cam.grid.fullscreen", i18nAriaLabel: "cam.grid.fullscreen", attrs: { type: "button" } },
    h("span", { class: "cam-fs-icon", attrs: { "aria-hidden": "true" } }),
  );
}
