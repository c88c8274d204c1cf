// @ts-check
// The editors of the Phones page (admin): a dialog for one extension
// (number, name, department, linked user, SIP password, forwarding, do not
// disturb) and one for a ring group. Each dialog stays open until the
// server accepts the change, and explains a refusal in words inside it.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, errorText, h } from "../ui.js";

/** @typedef {import("../i18n.js").I18n} I18n */
/** @typedef {import("../ws.js").ConsoleClient} ConsoleClient */

/**
 * @typedef {object} Extension
 * @property {string} number
 * @property {string} name
 * @property {string} [user]
 * @property {string} [department]
 * @property {string} [forward_always]
 * @property {string} [forward_busy]
 * @property {string} [forward_no_answer]
 * @property {number} [no_answer_seconds]
 * @property {boolean} dnd
 */

/**
 * @typedef {object} RingGroup
 * @property {string} number
 * @property {string} name
 * @property {"all" | "order"} strategy
 * @property {string[]} members
 * @property {number} ring_seconds
 */

/** The ways a ring group rings, in the order the select shows them. */
export const STRATEGIES = Object.freeze(/** @type {const} */ (["all", "order"]));

/**
 * parseMembers splits the members field: extension numbers separated by
 * commas, semicolons or spaces (also the Chinese comma), each once.
 * @param {string} s
 * @returns {string[]}
 */
export function parseMembers(s) {
  /** @type {string[]} */
  const out = [];
  for (const m of s.split(/[\s,;，、；]+/)) {
    const x = m.trim();
    if (x && !out.includes(x)) out.push(x);
  }
  return out;
}

/**
 * parseSeconds reads an optional whole number of seconds: "" is 0, and
 * anything that is not a whole number ≥ 0 is null.
 * @param {string} s
 * @returns {number | null}
 */
export function parseSeconds(s) {
  const t = s.trim();
  if (t === "") return 0;
  if (!/^\d{1,4}$/.test(t)) return null;
  return Number(t);
}

/**
 * formDialog shows a modal form. submit runs on "save"; the dialog closes
 * when it resolves and shows the error in words when it throws, so the
 * person can correct the input. Resolves true when saved.
 * @param {I18n} i18n
 * @param {object} opts
 * @param {string} opts.title already translated.
 * @param {string} opts.testid
 * @param {Node[]} opts.body
 * @param {string} opts.submitKey dictionary key of the save button.
 * @param {(error: ErrorBox) => Promise<boolean>} opts.submit false keeps the dialog open (it showed why).
 * @param {HTMLElement} [opts.focus]
 * @returns {Promise<boolean>}
 */
function formDialog(i18n, opts) {
  const error = new ErrorBox(`${opts.testid}-error`);
  const save = h("button", { class: "btn btn-primary", testid: `${opts.testid}-submit`, i18n: opts.submitKey, attrs: { type: "submit" } });
  const cancel = h("button", { class: "btn btn-plain", i18n: "common.cancel", attrs: { type: "button" } });
  const form = h(
    "form",
    { attrs: { novalidate: true } },
    h("h2", { class: "dialog-title", text: opts.title }),
    h("div", { class: "dialog-body" }, ...opts.body, error.el),
    h("div", { class: "dialog-actions" }, cancel, save),
  );
  const dlg = h("dialog", { class: "dialog dialog-wide", testid: opts.testid }, form);
  i18n.translate(dlg);
  document.body.append(dlg);
  let saved = false;
  cancel.addEventListener("click", () => dlg.close());
  // A correction makes the last complaint stale.
  form.addEventListener("input", () => error.hide());
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
      error.show(() => errorText(i18n, err));
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
 * requestOrTaken sends a create or update. A number that is already in
 * use is explained in the reader's language and gives null; other errors
 * are thrown for formDialog to explain.
 * @param {ConsoleClient} client
 * @param {ErrorBox} error
 * @param {I18n} i18n
 * @param {string} type
 * @param {Record<string, unknown>} params
 * @returns {Promise<any>}
 */
async function requestOrTaken(client, error, i18n, type, params) {
  try {
    return (await client.request(type, params)) ?? {};
  } catch (err) {
    if (/** @type {{code?: string}} */ (err)?.code !== "conflict") throw err;
    error.show(() => i18n.t("phones.number_taken", { number: String(params.number) }));
    return null;
  }
}

/**
 * field is a labelled control.
 * @param {string} key dictionary key of the label.
 * @param {HTMLElement} control
 * @param {{wide?: boolean, hint?: string}} [o]
 */
function field(key, control, o = {}) {
  return h(
    "label",
    { class: o.wide ? "field field-span" : "field" },
    h("span", { class: "field-label", i18n: key }),
    control,
    o.hint ? h("span", { class: "field-hint muted small", i18n: o.hint }) : null,
  );
}

/**
 * openExtensionEditor edits ext, or makes a new extension without it.
 * Resolves with the saved extension, or null when cancelled.
 * @param {object} o
 * @param {I18n} o.i18n
 * @param {ConsoleClient} o.client
 * @param {Extension} [o.ext]
 * @param {string[]} [o.usernames] offered for the linked user.
 * @returns {Promise<Extension | null>}
 */
export async function openExtensionEditor({ i18n, client, ext, usernames = [] }) {
  const editing = ext !== undefined;
  /**
   * @param {string} testid
   * @param {Record<string, string | number | boolean>} [attrs]
   * @param {string} [ph] dictionary key of the placeholder.
   */
  const input = (testid, attrs = {}, ph) => h("input", { testid, i18nPlaceholder: ph, attrs: { autocomplete: "off", spellcheck: "false", ...attrs } });
  const number = input("ext-number", { inputmode: "numeric", maxlength: 16, required: true, readonly: editing }, "ext.number_ph");
  const name = input("ext-name", { maxlength: 64, required: true }, "ext.name_ph");
  const department = input("ext-department", { maxlength: 64 });
  const listID = "ext-usernames";
  const user = input("ext-user", { maxlength: 64, list: listID, autocapitalize: "none" }, "ext.user_ph");
  const users = h("datalist", { attrs: { id: listID } }, ...usernames.map((u) => h("option", { attrs: { value: u } })));
  const password = input("ext-password", { type: "password", autocomplete: "new-password", maxlength: 64, required: !editing }, editing ? "ext.password_keep_ph" : "ext.password_new_ph");
  const fwdAlways = input("ext-forward-always", { inputmode: "numeric", maxlength: 16 }, "ext.fwd_ph");
  const fwdBusy = input("ext-forward-busy", { inputmode: "numeric", maxlength: 16 }, "ext.fwd_ph");
  const fwdNoAnswer = input("ext-forward-noanswer", { inputmode: "numeric", maxlength: 16 }, "ext.fwd_ph");
  const seconds = input("ext-noanswer-seconds", { type: "number", min: 0, max: 300, step: 1, inputmode: "numeric" }, "ext.no_answer_seconds_ph");
  const dnd = h("input", { testid: "ext-dnd", attrs: { type: "checkbox" } });
  if (ext) {
    number.value = ext.number;
    name.value = ext.name;
    department.value = ext.department ?? "";
    user.value = ext.user ?? "";
    fwdAlways.value = ext.forward_always ?? "";
    fwdBusy.value = ext.forward_busy ?? "";
    fwdNoAnswer.value = ext.forward_no_answer ?? "";
    seconds.value = ext.no_answer_seconds ? String(ext.no_answer_seconds) : "";
    dnd.checked = ext.dnd;
  }
  /** @type {Extension | null} */
  let result = null;
  const saved = await formDialog(i18n, {
    title: editing ? i18n.t("ext.title_edit", { number: ext.number }) : i18n.t("ext.title_new"),
    testid: "extension-editor",
    submitKey: editing ? "ext.save" : "ext.create",
    focus: editing ? name : number,
    body: [
      h(
        "div",
        { class: "form-grid" },
        field("ext.number", number),
        field("ext.name", name),
        field("ext.department", department),
        field("ext.user", user),
        field("ext.password", password, { wide: true, hint: editing ? "ext.password_keep_hint" : "ext.password_hint" }),
        users,
      ),
      h(
        "fieldset",
        { class: "form-section" },
        h("legend", { class: "field-label", i18n: "ext.section.forwarding" }),
        h(
          "div",
          { class: "form-grid form-grid-3" },
          field("ext.fwd_always", fwdAlways),
          field("ext.fwd_busy", fwdBusy),
          field("ext.fwd_no_answer", fwdNoAnswer),
          field("ext.no_answer_seconds", seconds),
          h("label", { class: "check check-cell" }, dnd, h("span", { i18n: "ext.dnd" })),
        ),
      ),
    ],
    submit: async (error) => {
      const num = number.value.trim();
      const nm = name.value.trim();
      if (!num || !nm) {
        error.show(() => i18n.t("ext.need_number_name"));
        return false;
      }
      if (!editing && !password.value) {
        error.show(() => i18n.t("ext.need_password"));
        return false;
      }
      const secs = parseSeconds(seconds.value);
      if (secs === null) {
        error.show(() => i18n.t("ext.seconds_bad"));
        return false;
      }
      /** @type {Record<string, unknown>} */
      const params = {
        number: num,
        name: nm,
        department: department.value.trim(),
        user: user.value.trim(),
        forward_always: fwdAlways.value.trim(),
        forward_busy: fwdBusy.value.trim(),
        forward_no_answer: fwdNoAnswer.value.trim(),
        no_answer_seconds: secs,
        dnd: dnd.checked,
      };
      if (password.value) params.password = password.value;
      const res = await requestOrTaken(client, error, i18n, editing ? REQUEST_TYPES.VOIP_EXTENSIONS_UPDATE : REQUEST_TYPES.VOIP_EXTENSIONS_CREATE, params);
      if (!res) return false;
      result = res.extension ?? null;
      return true;
    },
  });
  return saved ? result : null;
}

/**
 * openRingGroupEditor edits group, or makes a new ring group without it.
 * Resolves with the saved group, or null when cancelled.
 * @param {object} o
 * @param {I18n} o.i18n
 * @param {ConsoleClient} o.client
 * @param {RingGroup} [o.group]
 * @returns {Promise<RingGroup | null>}
 */
export async function openRingGroupEditor({ i18n, client, group }) {
  const editing = group !== undefined;
  const number = h("input", { testid: "rg-number", i18nPlaceholder: "ext.number_ph", attrs: { inputmode: "numeric", maxlength: 16, required: true, readonly: editing, autocomplete: "off" } });
  const name = h("input", { testid: "rg-name", i18nPlaceholder: "rg.name_ph", attrs: { maxlength: 64, required: true, autocomplete: "off" } });
  const strategy = h("select", { testid: "rg-strategy" }, ...STRATEGIES.map((s) => h("option", { i18n: `rg.strategy.${s}`, attrs: { value: s } })));
  const members = h("input", { testid: "rg-members", i18nPlaceholder: "rg.members_ph", attrs: { autocomplete: "off", spellcheck: "false", required: true } });
  const seconds = h("input", { testid: "rg-seconds", attrs: { type: "number", min: 5, max: 300, step: 1, inputmode: "numeric" } });
  seconds.value = "20";
  if (group) {
    number.value = group.number;
    name.value = group.name;
    strategy.value = group.strategy;
    members.value = group.members.join(", ");
    seconds.value = String(group.ring_seconds || 20);
  }
  /** @type {RingGroup | null} */
  let result = null;
  const saved = await formDialog(i18n, {
    title: editing ? i18n.t("rg.title_edit", { number: group.number }) : i18n.t("rg.title_new"),
    testid: "ringgroup-editor",
    submitKey: editing ? "ext.save" : "rg.create",
    focus: editing ? name : number,
    body: [
      h(
        "div",
        { class: "form-grid" },
        field("rg.number", number),
        field("rg.name", name),
        field("rg.strategy", strategy),
        field("rg.ring_seconds", seconds, { hint: "rg.ring_seconds_hint" }),
        field("rg.members", members, { wide: true, hint: "rg.members_hint" }),
      ),
    ],
    submit: async (error) => {
      const num = number.value.trim();
      const nm = name.value.trim();
      const list = parseMembers(members.value);
      if (!num || !nm || list.length === 0) {
        error.show(() => i18n.t("rg.need_fields"));
        return false;
      }
      const secs = parseSeconds(seconds.value);
      if (secs === null) {
        error.show(() => i18n.t("ext.seconds_bad"));
        return false;
      }
      const res = await requestOrTaken(client, error, i18n, editing ? REQUEST_TYPES.VOIP_RINGGROUPS_UPDATE : REQUEST_TYPES.VOIP_RINGGROUPS_CREATE, {
        number: num,
        name: nm,
        strategy: strategy.value,
        members: list,
        ring_seconds: secs,
      });
      if (!res) return false;
      result = res.ring_group ?? null;
      return true;
    },
  });
  return saved ? result : null;
}
