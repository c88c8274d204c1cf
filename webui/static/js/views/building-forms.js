// @ts-check
// Form building blocks of the Building page's admin editors
// (building-setup.js): a modal form dialog that stays open until the
// server accepts the change, typed fields described by a spec, and the
// two editors that are more than fields: a schedule's weekly windows and
// an access level's doors with their schedules.

import { ErrorBox, errorText, h } from "../ui.js";
import { DAYS, ID_RE, checkWindows, splitList } from "./building-model.js";

/** @typedef {import("../i18n.js").I18n} I18n */
/** @typedef {import("./building-model.js").Window} Window */

/**
 * @typedef {object} FieldSpec one input of an editor.
 * @property {string} key the JSON field.
 * @property {string} label dictionary key.
 * @property {"text" | "id" | "number" | "select" | "check" | "password" | "date" | "datetime" | "list" | "checks"} type
 *   "id" is an id (kept read-only when editing), "list" a comma-separated
 *   list, "checks" a set of check boxes (its options), "datetime" a local
 *   time sent as RFC 3339.
 * @property {boolean} [required]
 * @property {boolean} [optionalID] an id the server generates when empty.
 * @property {string} [hint] dictionary key.
 * @property {string} [placeholder] dictionary key.
 * @property {boolean} [wide]
 * @property {number} [min]
 * @property {number} [max]
 * @property {() => {value: string, label: string}[]} [options]
 * @property {boolean} [keepEmpty] send "" rather than leaving the field out.
 */

/**
 * @typedef {object} Field a built input.
 * @property {FieldSpec} spec
 * @property {HTMLElement} el the labelled control.
 * @property {() => unknown} read the value to send (undefined: leave out).
 * @property {(v: unknown) => void} write
 * @property {HTMLElement} input the control to focus.
 */

/**
 * isoToLocal is the value of an <input type=datetime-local> for an RFC
 * 3339 time ("" for none).
 * @param {unknown} v
 * @returns {string}
 */
export function isoToLocal(v) {
  if (typeof v !== "string" || !v) return "";
  const d = new Date(v);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return "";
  /** @param {number} n */
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * buildField makes the labelled control of a spec.
 * @param {I18n} i18n
 * @param {FieldSpec} spec
 * @param {boolean} editing
 * @returns {Field}
 */
export function buildField(i18n, spec, editing) {
  const testid = `bf-${spec.key}`;
  /** @type {HTMLElement} */
  let input;
  /** @type {() => unknown} */
  let read;
  /** @type {(v: unknown) => void} */
  let write;
  switch (spec.type) {
    case "check": {
      const c = h("input", { testid, attrs: { type: "checkbox" } });
      input = c;
      read = () => c.checked;
      write = (v) => (c.checked = v === true);
      const el = h("label", { class: `check${spec.wide ? " field-span" : ""}` }, c, h("span", { i18n: spec.label }));
      return { spec, el, read, write, input };
    }
    case "select": {
      const sel = h("select", { testid }, ...(spec.options?.() ?? []).map((o) => h("option", { text: o.label, attrs: { value: o.value } })));
      input = sel;
      read = () => sel.value;
      write = (v) => (sel.value = typeof v === "string" ? v : "");
      break;
    }
    case "checks": {
      const box = h("div", { class: "check-list", testid });
      for (const o of spec.options?.() ?? []) {
        box.append(h("label", { class: "check" }, h("input", { attrs: { type: "checkbox", value: o.value } }), h("span", { text: o.label })));
      }
      input = box;
      const boxes = () => /** @type {HTMLInputElement[]} */ ([...box.querySelectorAll("input")]);
      read = () => boxes().filter((b) => b.checked).map((b) => b.value);
      write = (v) => {
        const set = new Set(Array.isArray(v) ? v : []);
        for (const b of boxes()) b.checked = set.has(b.value);
      };
      if (boxes().length === 0) box.append(h("span", { class: "muted small", i18n: "bld.setup.none_to_pick" }));
      break;
    }
    default: {
      const type = { number: "number", password: "password", date: "date", datetime: "datetime-local" }[/** @type {string} */ (spec.type)] ?? "text";
      const inp = h("input", {
        testid,
        i18nPlaceholder: spec.placeholder,
        attrs: {
          type,
          autocomplete: spec.type === "password" ? "new-password" : "off",
          spellcheck: "false",
          min: spec.min,
          max: spec.max,
          step: spec.type === "number" ? 1 : undefined,
          maxlength: spec.type === "number" || spec.type === "date" || spec.type === "datetime" ? undefined : spec.type === "list" ? 800 : 72,
          readonly: spec.type === "id" && editing,
        },
      });
      input = inp;
      read = () => {
        const v = inp.value.trim();
        if (spec.type === "number") return v === "" ? undefined : Number(v);
        if (spec.type === "list") return splitList(v);
        if (spec.type === "datetime") return v ? new Date(v).toISOString() : undefined;
        if (spec.type === "password") return inp.value === "" ? undefined : inp.value;
        return v === "" && !spec.keepEmpty ? undefined : v;
      };
      write = (v) => {
        if (spec.type === "list") inp.value = Array.isArray(v) ? v.join(", ") : "";
        else if (spec.type === "datetime") inp.value = isoToLocal(v);
        else if (spec.type === "password") inp.value = "";
        else inp.value = v === undefined || v === null ? "" : String(v);
      };
    }
  }
  const el = h(
    "label",
    { class: spec.wide ? "field field-span" : "field" },
    h("span", { class: "field-label", i18n: spec.label }),
    input,
    spec.hint ? h("span", { class: "field-hint muted small", i18n: spec.hint }) : null,
  );
  return { spec, el, read, write, input };
}

/**
 * checkFields names the dictionary key of the first problem with the
 * fields' values (a required one empty, a malformed id), or "".
 * @param {Field[]} fields
 * @returns {{key: string, label: string}}
 */
export function checkFields(fields) {
  for (const f of fields) {
    const v = f.read();
    if (f.spec.required && (v === undefined || v === "" || (Array.isArray(v) && v.length === 0))) return { key: "bld.setup.required", label: f.spec.label };
    if (f.spec.type === "id" && typeof v === "string" && v !== "" && !ID_RE.test(v)) return { key: "bld.setup.bad_id", label: f.spec.label };
    if (f.spec.type === "number" && v !== undefined && !Number.isInteger(v)) return { key: "bld.setup.bad_number", label: f.spec.label };
  }
  return { key: "", label: "" };
}

/**
 * formDialog shows a modal form. submit runs on save; the dialog closes
 * when it resolves true and explains the error in words when it throws,
 * so the person can correct the input. Resolves true when saved.
 * @param {I18n} i18n
 * @param {object} opts
 * @param {string} opts.title already translated.
 * @param {string} opts.testid
 * @param {Node[]} opts.body
 * @param {string} opts.submitKey dictionary key of the save button.
 * @param {(error: ErrorBox) => Promise<boolean>} opts.submit
 * @param {(err: unknown) => string} [opts.explain]
 * @param {HTMLElement} [opts.focus]
 * @param {boolean} [opts.wide]
 * @returns {Promise<boolean>}
 */
export function formDialog(i18n, opts) {
  const error = new ErrorBox(`${opts.testid}-error`);
  const save = h("button", { class: "btn btn-primary", testid: `${opts.testid}-submit`, i18n: opts.submitKey, attrs: { type: "submit" } });
  const cancel = h("button", { class: "btn btn-plain", i18n: "common.cancel", attrs: { type: "button" } });
  const form = h(
    "form",
    { attrs: { novalidate: true } },
    h("h2", { class: "dialog-title", text: opts.title }),
    h("div", { class: "dialog-body dialog-scroll" }, ...opts.body, error.el),
    h("div", { class: "dialog-actions" }, cancel, save),
  );
  const dlg = h("dialog", { class: `dialog ${opts.wide === false ? "" : "dialog-wide"}`, testid: opts.testid }, form);
  i18n.translate(dlg);
  document.body.append(dlg);
  let saved = false;
  cancel.addEventListener("click", () => dlg.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hide();
    save.disabled = true;
    try {
      if (await opts.submit(error)) {
        saved = true;
        dlg.close();
      }
    } catch (err) {
      error.show(() => (opts.explain ? opts.explain(err) : errorText(i18n, err)));
    } finally {
      save.disabled = false;
    }
  });
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(saved);
    });
    dlg.showModal();
    opts.focus?.focus();
  });
}

/**
 * windowsEditor edits a schedule's weekly windows: one row per window
 * (day, start, end), rows added and removed with buttons.
 * @param {I18n} i18n
 * @param {Window[]} initial
 * @returns {{el: HTMLElement, read: () => Window[], check: () => string}}
 */
export function windowsEditor(i18n, initial) {
  const rows = h("div", { class: "windows", testid: "sched-windows" });
  /** @param {Window} w */
  const addRow = (w) => {
    const day = h("select", { class: "select-compact", data: { part: "day" } }, ...DAYS.map((d) => h("option", { text: i18n.t(`bld.day.${d}`), attrs: { value: d } })));
    day.value = w.day;
    const start = h("input", { data: { part: "start" }, attrs: { type: "text", value: w.start, maxlength: 5, inputmode: "numeric", placeholder: "08:00" } });
    const end = h("input", { data: { part: "end" }, attrs: { type: "text", value: w.end, maxlength: 5, inputmode: "numeric", placeholder: "18:00" } });
    const row = h(
      "div",
      { class: "window-row" },
      day,
      start,
      h("span", { class: "muted", text: "–" }),
      end,
      h("button", { class: "btn btn-small btn-danger-quiet", text: i18n.t("bld.sched.remove"), attrs: { type: "button" }, on: { click: () => row.remove() } }),
    );
    rows.append(row);
  };
  for (const w of initial) addRow(w);
  const add = h("button", { class: "btn btn-small", testid: "sched-add-window", text: i18n.t("bld.sched.add"), attrs: { type: "button" } });
  // A new row copies the last one's times on the next day: building a
  // Monday-to-Friday week takes a few clicks.
  add.addEventListener("click", () => {
    const ws = read();
    const last = ws[ws.length - 1];
    const next = last ? DAYS[(DAYS.indexOf(last.day) + 1) % 7] : "mon";
    addRow({ day: next, start: last?.start ?? "08:00", end: last?.end ?? "18:00" });
  });
  const weekdays = h("button", { class: "btn btn-small", testid: "sched-weekdays", text: i18n.t("bld.sched.weekdays"), attrs: { type: "button" } });
  weekdays.addEventListener("click", () => {
    for (const d of ["mon", "tue", "wed", "thu", "fri"]) addRow({ day: d, start: "08:00", end: "18:00" });
  });
  const read = () =>
    [...rows.querySelectorAll(".window-row")].map((r) => ({
      day: /** @type {HTMLSelectElement} */ (r.querySelector("[data-part=day]")).value,
      start: /** @type {HTMLInputElement} */ (r.querySelector("[data-part=start]")).value.trim(),
      end: /** @type {HTMLInputElement} */ (r.querySelector("[data-part=end]")).value.trim(),
    }));
  const el = h(
    "div",
    { class: "field field-span" },
    h("span", { class: "field-label", i18n: "bld.sched.windows" }),
    rows,
    h("div", { class: "button-row" }, add, weekdays),
    h("span", { class: "field-hint muted small", i18n: "bld.sched.hint" }),
  );
  return { el, read, check: () => checkWindows(read()) };
}

/**
 * levelDoorsEditor edits an access level's doors: a check box per door
 * and, beside each, the schedule it is open during (none: at all times).
 * @param {I18n} i18n
 * @param {{id: string, name: string}[]} doors
 * @param {{id: string, name: string}[]} schedules
 * @param {{door: string, schedule?: string}[]} initial
 * @returns {{el: HTMLElement, read: () => {door: string, schedule?: string}[]}}
 */
export function levelDoorsEditor(i18n, doors, schedules, initial) {
  const byDoor = new Map(initial.map((d) => [d.door, d.schedule ?? ""]));
  const rows = doors.map((d) => {
    const check = h("input", { attrs: { type: "checkbox", value: d.id } });
    check.checked = byDoor.has(d.id);
    const sched = h(
      "select",
      { class: "select-compact" },
      h("option", { text: i18n.t("bld.level.always"), attrs: { value: "" } }),
      ...schedules.map((s) => h("option", { text: s.name, attrs: { value: s.id } })),
    );
    sched.value = byDoor.get(d.id) ?? "";
    return { door: d.id, check, sched, el: h("div", { class: "level-door", data: { door: d.id } }, h("label", { class: "check" }, check, h("span", { text: `${d.name} (${d.id})` })), sched) };
  });
  const el = h(
    "div",
    { class: "field field-span" },
    h("span", { class: "field-label", i18n: "bld.level.doors" }),
    h("div", { class: "level-doors", testid: "level-doors" }, ...rows.map((r) => r.el), rows.length ? null : h("span", { class: "muted small", i18n: "bld.setup.none_to_pick" })),
  );
  return {
    el,
    read: () => rows.filter((r) => r.check.checked).map((r) => (r.sched.value ? { door: r.door, schedule: r.sched.value } : { door: r.door })),
  };
}
