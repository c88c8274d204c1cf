// @ts-check
// The camera editor, for admins: add a camera by its RTSP URL (with the
// transport, user name and password), or by its ONVIF address with a
// "Probe" that shows who the camera is (manufacturer, model, firmware,
// serial, how far its clock is off) and fills a picker with its media
// profiles. Saving sends building.cameras.create or update; a password
// is sent only when one was typed, so an edit keeps the old one. What
// civicd says is wrong shows in the form, in its own words.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, h } from "../ui.js";
import { TRANSPORTS, cameraInput, clockSkewed, pickProfile, profileLabel, suggestID } from "./cameras-model.js";

/** @typedef {import("./cameras.js").CamerasPage} CamerasPage */
/** @typedef {import("./cameras-model.js").Camera} Camera */
/** @typedef {import("./cameras-model.js").CameraStatus} CameraStatus */
/** @typedef {import("./cameras-model.js").Profile} Profile */
/** @typedef {import("./cameras-model.js").ProbeResult} ProbeResult */

/**
 * offsetText says how far a camera's clock is off, in words.
 * @param {import("../i18n.js").I18n} i18n
 * @param {number} ms the camera's clock minus civicd's.
 * @returns {string}
 */
export function offsetText(i18n, ms) {
  const s = Math.abs(ms) / 1000;
  const amount = s < 1 ? i18n.t("cam.probe.ms", { n: Math.round(Math.abs(ms)) }) : s < 120 ? i18n.t("cam.probe.s", { n: s.toFixed(1) }) : i18n.t("cam.probe.min", { n: Math.round(s / 60) });
  if (Math.abs(ms) < 1) return i18n.t("cam.probe.in_step");
  return i18n.t(ms > 0 ? "cam.probe.ahead" : "cam.probe.behind", { amount });
}

/**
 * openCameraEditor opens the editor for a new camera (camera undefined,
 * prefill may give its ONVIF address and name) or for an existing one.
 * It resolves with what civicd saved, or null when cancelled.
 * @param {CamerasPage} page
 * @param {Camera} [camera]
 * @param {Partial<Camera>} [prefill]
 * @returns {Promise<{camera: Camera, status: CameraStatus} | null>}
 */
export function openCameraEditor(page, camera, prefill = {}) {
  const { client, i18n } = page.ctx;
  const editing = Boolean(camera);
  const start = /** @type {Partial<Camera>} */ ({ ...prefill, ...(camera ?? {}) });
  /** @type {"rtsp" | "onvif"} */
  let mode = start.onvif_url ? "onvif" : "rtsp";
  /** @type {Profile[]} */
  let profiles = camera?.profiles ?? [];
  let idTouched = editing;

  /**
   * @param {string} key the label's dictionary key.
   * @param {HTMLElement} input
   * @param {{hint?: string, span?: boolean}} [opts]
   */
  const field = (key, input, opts = {}) =>
    h(
      "label",
      { class: `field${opts.span ? " field-span" : ""}` },
      h("span", { class: "field-label", i18n: key }),
      input,
      opts.hint ? h("span", { class: "muted small field-hint", i18n: opts.hint }) : null,
    );
  /**
   * @param {string} testid
   * @param {string} value
   * @param {Record<string, string | number | boolean>} [attrs]
   */
  const input = (testid, value, attrs = {}) => {
    const el = h("input", { testid, attrs: { type: "text", autocomplete: "off", spellcheck: "false", ...attrs } });
    el.value = value;
    return el;
  };

  const name = input("camera-name", start.name ?? "", { maxlength: 100, required: true });
  const id = input("camera-id", start.id ?? "", { maxlength: 64, required: true, readonly: editing, pattern: "[a-z0-9][a-z0-9_-]*" });
  const rtsp = input("camera-rtsp", editing ? (start.rtsp_url ?? "") : "", { placeholder: "rtsp://192.0.2.10:554/stream1" });
  const onvif = input("camera-onvif", start.onvif_url ?? "", { placeholder: "http://192.0.2.10/onvif/device_service" });
  const user = input("camera-username", start.username ?? "", { autocomplete: "off" });
  const pass = input("camera-password", "", { type: "password", autocomplete: "new-password" });
  if (editing && camera?.has_password) pass.dataset.i18nPlaceholder = "cam.ed.password_keep";
  const transport = h("select", { testid: "camera-transport" }, ...TRANSPORTS.map((t) => h("option", { i18n: `cam.transport.${t}`, attrs: { value: t } })));
  transport.value = start.transport ?? "tcp";
  const enabled = h("input", { testid: "camera-enabled", attrs: { type: "checkbox" } });
  enabled.checked = start.enabled ?? true;

  // ---- mode switch ----
  const modeBtn = (/** @type {"rtsp" | "onvif"} */ m) =>
    h("button", { class: "seg", testid: `camera-mode-${m}`, data: { mode: m }, i18n: `cam.ed.mode_${m}`, attrs: { type: "button", "aria-pressed": "false" }, on: { click: () => setMode(m) } });
  const modes = h("div", { class: "lang-switch cam-modes", i18nAriaLabel: "cam.ed.mode", attrs: { role: "group" } }, modeBtn("rtsp"), modeBtn("onvif"));

  // ---- ONVIF probe ----
  const probeBtn = h("button", { class: "btn", testid: "camera-probe", i18n: "cam.probe.button", attrs: { type: "button" } });
  const probeError = new ErrorBox("camera-probe-error");
  const facts = h("dl", { class: "cam-facts", testid: "camera-probe-facts" });
  const profile = h("select", { testid: "camera-profile", i18nTitle: "cam.probe.profile_hint" });
  const probeBox = h(
    "div",
    { class: "cam-probe", testid: "camera-probe-result", attrs: { hidden: true } },
    facts,
    field("cam.probe.profile", profile),
  );

  const rtspSection = h("div", { class: "form-grid cam-mode-rtsp" }, field("cam.ed.rtsp", rtsp, { span: true, hint: "cam.ed.rtsp_hint" }));
  const onvifSection = h("div", { class: "cam-mode-onvif" }, field("cam.ed.onvif", onvif, { hint: "cam.ed.onvif_hint" }));
  // The probe needs the user name and password: its button ends their row.
  const creds = h("div", { class: "form-grid form-grid-3 cam-creds" }, field("cam.ed.username", user), field("cam.ed.password", pass), field("cam.ed.transport", transport), probeBtn);
  const probeSection = h("div", { class: "cam-mode-onvif stack" }, probeError.el, probeBox);

  const error = new ErrorBox("camera-editor-error");
  const submit = h("button", { class: "btn btn-primary", testid: "camera-save", i18n: "cam.ed.save", attrs: { type: "submit" } });
  const cancel = h("button", { class: "btn btn-plain", i18n: "common.cancel", attrs: { type: "button" } });
  const title = editing ? i18n.t("cam.ed.title_edit", { name: camera?.name ?? "" }) : i18n.t("cam.ed.title_new");
  const form = h(
    "form",
    { attrs: { novalidate: true } },
    h("div", { class: "cam-editor-head" }, h("h2", { class: "dialog-title", text: title }), modes),
    h("div", { class: "form-grid" }, field("cam.ed.name", name), field("cam.ed.id", id, { hint: editing ? "cam.ed.id_fixed" : "cam.ed.id_hint" })),
    rtspSection,
    onvifSection,
    creds,
    probeSection,
    h("label", { class: "check" }, enabled, h("span", { i18n: "cam.ed.enabled" })),
    error.el,
    h("div", { class: "dialog-actions" }, cancel, submit),
  );
  const dlg = h("dialog", { class: "dialog dialog-wide cam-editor", testid: "camera-editor" }, form);

  /** @param {"rtsp" | "onvif"} m */
  const setMode = (m) => {
    mode = m;
    for (const b of modes.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === m));
    rtspSection.hidden = m !== "rtsp";
    onvifSection.hidden = m !== "onvif";
    probeSection.hidden = m !== "onvif";
    probeBtn.hidden = m !== "onvif";
    creds.classList.toggle("cam-creds-probe", m === "onvif");
    dlg.dataset.mode = m;
    error.hide();
  };

  /**
   * showProbe fills the facts and the profile picker.
   * @param {{manufacturer?: string, model?: string, firmware?: string, serial?: string, clock_offset_ms?: number}} p
   * @param {Profile[]} list
   * @param {string} current
   */
  const showProbe = (p, list, current) => {
    profiles = list;
    /** @type {[string, string, string?][]} */
    const rows = [
      ["cam.probe.manufacturer", p.manufacturer || "—"],
      ["cam.probe.model", p.model || "—"],
      ["cam.probe.firmware", p.firmware || "—"],
      ["cam.probe.serial", p.serial || "—"],
    ];
    if (typeof p.clock_offset_ms === "number") rows.push(["cam.probe.clock", offsetText(i18n, p.clock_offset_ms), clockSkewed(p.clock_offset_ms) ? "warn" : ""]);
    facts.replaceChildren(
      ...rows.map(([k, v, cls]) =>
        h("div", { class: `cam-fact${cls ? ` cam-fact-${cls}` : ""}`, data: { fact: k.slice("cam.probe.".length) } }, h("dt", { text: i18n.t(k) }), h("dd", { text: v, attrs: { title: v } })),
      ),
    );
    if (typeof p.clock_offset_ms === "number" && clockSkewed(p.clock_offset_ms)) {
      facts.append(h("p", { class: "cam-fact-note small", testid: "camera-clock-warning", text: i18n.t("cam.probe.clock_warn") }));
    }
    profile.replaceChildren(
      ...list.map((pr) =>
        h("option", { text: /^h\.?264$/i.test(pr.encoding) ? profileLabel(pr) : `${profileLabel(pr)} — ${i18n.t("cam.probe.no_live")}`, attrs: { value: pr.token } }),
      ),
    );
    if (list.length === 0) profile.append(h("option", { text: i18n.t("cam.probe.no_profiles"), attrs: { value: "" } }));
    profile.value = pickProfile(list, current);
    probeBox.hidden = false;
    onvifSection.classList.add("cam-probed");
  };
  if (editing && camera && camera.onvif_url) showProbe(camera, profiles, camera.profile ?? "");

  probeBtn.addEventListener("click", async () => {
    probeError.hide();
    const u = onvif.value.trim();
    if (!/^https?:\/\/[^/\s]+/i.test(u)) {
      probeError.show(() => i18n.t("cam.ed.bad_onvif"));
      onvif.focus();
      return;
    }
    probeBtn.disabled = true;
    probeBtn.textContent = i18n.t("cam.probe.busy");
    dlg.dataset.probing = "true";
    try {
      /** @type {ProbeResult} */
      const res = await client.request(REQUEST_TYPES.CAMERAS_PROBE, { onvif_url: u, username: user.value.trim(), password: pass.value });
      showProbe(res, res.profiles ?? [], profile.value || camera?.profile || "");
      if (!name.value.trim()) {
        name.value = [res.manufacturer, res.model].filter(Boolean).join(" ");
        name.dispatchEvent(new Event("input"));
      }
    } catch (err) {
      const needPass = editing && camera?.has_password && !pass.value;
      probeError.show(() => (needPass ? `${page.explain(err)} ${i18n.t("cam.probe.type_password")}` : page.explain(err)));
    } finally {
      probeBtn.disabled = false;
      probeBtn.textContent = i18n.t("cam.probe.button");
      delete dlg.dataset.probing;
    }
  });

  name.addEventListener("input", () => {
    if (!idTouched) id.value = suggestID(name.value, page.state.cameras.keys());
  });
  id.addEventListener("input", () => (idTouched = true));
  form.addEventListener("input", () => error.hide());
  if (!editing && !id.value && name.value) id.value = suggestID(name.value, page.state.cameras.keys());

  /** @type {Record<string, HTMLElement>} */
  const fields = { id, name, rtsp, onvif, transport };
  /** @type {{camera: Camera, status: CameraStatus} | null} */
  let saved = null;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hide();
    const out = cameraInput(
      {
        mode,
        id: id.value,
        name: name.value,
        rtspURL: rtsp.value,
        onvifURL: onvif.value,
        username: user.value,
        password: pass.value,
        transport: transport.value,
        profile: profiles.length ? profile.value : "",
        enabled: enabled.checked,
      },
      camera ?? null,
    );
    if ("problem" in out) {
      error.show(() => i18n.t(out.problem));
      fields[out.field]?.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = i18n.t(mode === "onvif" ? "cam.ed.saving_onvif" : "cam.ed.saving");
    try {
      const res = await client.request(editing ? REQUEST_TYPES.CAMERAS_UPDATE : REQUEST_TYPES.CAMERAS_CREATE, { camera: out.input });
      saved = res;
      dlg.close();
    } catch (err) {
      error.show(() => page.explain(err));
    } finally {
      submit.disabled = false;
      submit.textContent = i18n.t("cam.ed.save");
    }
  });

  cancel.addEventListener("click", () => dlg.close());
  i18n.translate(dlg);
  setMode(mode);
  document.body.append(dlg);
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(saved);
    });
    dlg.showModal();
    (editing ? name : mode === "onvif" && onvif.value ? user : name).focus();
  });
}
