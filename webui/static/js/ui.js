// @ts-check
// Small shared building blocks for the views: element creation, error
// sentences, time formatting, the language switch, dialogs and notices.
// Nothing here talks to the server.

import { LANGS, LANG_NAMES } from "./i18n.js";

/** @typedef {import("./i18n.js").I18n} I18n */
/** @typedef {import("./i18n.js").Lang} Lang */

/**
 * @typedef {object} Props
 * @property {string} [class] CSS classes.
 * @property {string} [testid] becomes data-testid.
 * @property {string} [i18n] dictionary key for the text (set by I18n.translate).
 * @property {string} [i18nPlaceholder] dictionary key for the placeholder.
 * @property {string} [i18nTitle] dictionary key for the title.
 * @property {string} [i18nAriaLabel] dictionary key for aria-label.
 * @property {string} [text] literal text content.
 * @property {Record<string, string>} [data] data-* attributes.
 * @property {Record<string, EventListener>} [on] event listeners.
 * @property {Record<string, string | number | boolean | null | undefined>} [attrs] other attributes; false/null/undefined omit them.
 */

/**
 * h creates an element. Children may be nodes, strings or null (skipped).
 * Labels given by key are filled in by I18n.translate on the finished tree.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.i18n) el.dataset.i18n = props.i18n;
  if (props.i18nPlaceholder) el.dataset.i18nPlaceholder = props.i18nPlaceholder;
  if (props.i18nTitle) el.dataset.i18nTitle = props.i18nTitle;
  if (props.i18nAriaLabel) el.dataset.i18nAriaLabel = props.i18nAriaLabel;
  if (props.text !== undefined) el.textContent = props.text;
  for (const [k, v] of Object.entries(props.data ?? {})) el.dataset[k] = v;
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const [ev, fn] of Object.entries(props.on ?? {})) el.addEventListener(ev, fn);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

/**
 * errorText turns an error from the server or the network into a sentence
 * in the current language. The code is only shown for unknown errors, and
 * then next to a sentence.
 * @param {I18n} i18n
 * @param {unknown} err
 * @returns {string}
 */
export function errorText(i18n, err) {
  const e = /** @type {{code?: unknown, message?: unknown, status?: unknown}} */ (err ?? {});
  const code = typeof e.code === "string" ? e.code : "";
  const detail = typeof e.message === "string" && e.message ? e.message : "";
  if (code && i18n.has(`err.${code}`)) {
    return i18n.t(`err.${code}`, { detail, status: String(e.status ?? "") });
  }
  return i18n.t("err.unknown", { code: code || "client", detail: detail || String(err) });
}

/**
 * formatTime shows an RFC 3339 time in the browser's local zone as
 * "2026-01-02 15:04:05", which reads the same in both languages.
 * @param {string | undefined} iso
 * @returns {string}
 */
export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  /** @param {number} n */
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * formatDuration humanises a number of seconds: "3 d 4 h 12 min",
 * "4 h 2 min 9 s", "12 s".
 * @param {I18n} i18n
 * @param {number} seconds
 * @returns {string}
 */
export function formatDuration(i18n, seconds) {
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hr = Math.floor(s / 3600);
  s -= hr * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  /** @type {string[]} */
  const parts = [];
  if (d > 0) parts.push(i18n.t("unit.d", { n: d }), i18n.t("unit.h", { n: hr }), i18n.t("unit.min", { n: m }));
  else if (hr > 0) parts.push(i18n.t("unit.h", { n: hr }), i18n.t("unit.min", { n: m }), i18n.t("unit.s", { n: s }));
  else if (m > 0) parts.push(i18n.t("unit.min", { n: m }), i18n.t("unit.s", { n: s }));
  else parts.push(i18n.t("unit.s", { n: s }));
  return parts.join(" ");
}

/**
 * langSwitch is the 中文 / English toggle used on the login page and in the
 * top bar.
 * @param {I18n} i18n
 * @returns {{el: HTMLElement, destroy: () => void}}
 */
export function langSwitch(i18n) {
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  for (const lang of LANGS) {
    buttons.push(
      h("button", {
        class: "seg",
        text: LANG_NAMES[lang],
        data: { lang },
        attrs: { type: "button", lang },
        on: { click: () => i18n.set(lang) },
      }),
    );
  }
  const el = h("div", { class: "lang-switch", testid: "lang-switch", i18nAriaLabel: "lang.label", attrs: { role: "group" } }, ...buttons);
  const sync = () => {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.lang === i18n.lang));
  };
  sync();
  const off = i18n.onChange(sync);
  return { el, destroy: off };
}

/**
 * openDialog shows a modal <dialog> holding body and buttons, and resolves
 * with the value of the button that closed it ("" for Escape).
 * @param {I18n} i18n
 * @param {object} opts
 * @param {string} opts.title already translated title.
 * @param {Node[]} opts.body
 * @param {{value: string, key: string, kind?: "primary" | "danger" | "plain"}[]} opts.buttons
 * @param {string} [opts.testid]
 * @returns {Promise<string>}
 */
export function openDialog(i18n, opts) {
  const dlg = h(
    "dialog",
    { class: "dialog", testid: opts.testid },
    h("form", { attrs: { method: "dialog" } },
      h("h2", { class: "dialog-title", text: opts.title }),
      h("div", { class: "dialog-body" }, ...opts.body),
      h("div", { class: "dialog-actions" },
        ...opts.buttons.map((b) =>
          h("button", { class: `btn btn-${b.kind ?? "plain"}`, i18n: b.key, attrs: { value: b.value, type: "submit" } }),
        ),
      ),
    ),
  );
  i18n.translate(dlg);
  document.body.append(dlg);
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue);
      dlg.remove();
    });
    dlg.showModal();
  });
}

/**
 * confirmDialog asks a yes/no question; true when confirmed.
 * @param {I18n} i18n
 * @param {string} message already translated.
 * @param {{danger?: boolean, confirmKey?: string}} [opts]
 * @returns {Promise<boolean>}
 */
export async function confirmDialog(i18n, message, opts = {}) {
  const v = await openDialog(i18n, {
    title: i18n.t("common.confirm"),
    testid: "confirm-dialog",
    body: [h("p", { text: message })],
    buttons: [
      { value: "cancel", key: "common.cancel" },
      { value: "ok", key: opts.confirmKey ?? "common.confirm", kind: opts.danger ? "danger" : "primary" },
    ],
  });
  return v === "ok";
}

/**
 * Notices shows the outcome of the last action as one short line at the
 * right of the page title, where it covers nothing. A newer notice
 * replaces the older one; each fades after a while.
 */
export class Notices {
  /** @type {HTMLElement} */
  el;

  constructor() {
    this.el = h("div", { class: "notices", testid: "notices", attrs: { "aria-live": "polite", role: "status" } });
  }

  /** @type {(() => string) | null} */
  #text = null;

  /**
   * show displays a notice. Pass a function to have the text follow
   * language switches while it is shown.
   * @param {string | (() => string)} text
   * @param {"ok" | "error" | "info"} [kind]
   */
  show(text, kind = "info") {
    const fn = typeof text === "function" ? text : () => text;
    const s = fn();
    const n = h("div", { class: `notice notice-${kind}`, text: s, attrs: { title: s } });
    this.#text = fn;
    this.el.replaceChildren(n);
    setTimeout(() => {
      n.remove();
      if (!this.el.firstChild) this.#text = null;
    }, kind === "error" ? 12000 : 6000);
  }

  /** relocalize re-renders the shown notice after a language switch. */
  relocalize() {
    const n = this.el.firstElementChild;
    if (n instanceof HTMLElement && this.#text) {
      n.textContent = this.#text();
      n.title = n.textContent;
    }
  }

  /** clear removes the notice, e.g. when the user signs out. */
  clear() {
    this.el.replaceChildren();
    this.#text = null;
  }
}

/**
 * ErrorBox is a paragraph that explains a failure in words and follows
 * language switches while it is shown.
 */
export class ErrorBox {
  /** @type {HTMLParagraphElement} */
  el;
  /** @type {(() => string) | null} */
  #text = null;

  /**
   * @param {string} [testid]
   */
  constructor(testid) {
    this.el = h("p", { class: "form-error", testid, attrs: { role: "alert", hidden: true } });
  }

  /**
   * show displays the sentence fn returns, now and after language switches.
   * @param {() => string} fn
   */
  show(fn) {
    this.#text = fn;
    this.el.textContent = fn();
    this.el.hidden = false;
  }

  /** hide removes the message. */
  hide() {
    this.#text = null;
    this.el.textContent = "";
    this.el.hidden = true;
  }

  /** relocalize re-renders the message in the current language. */
  relocalize() {
    if (this.#text) this.el.textContent = this.#text();
  }
}
