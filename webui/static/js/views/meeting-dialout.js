// @ts-check
// Calling a phone into the meeting (dial-out), for the meeting's hosts:
// the "Call a phone" button, its dialog (the phone directory, extensions
// and ring groups, filtered as you type, each with whether its phone is
// registered, and any number typed by hand) and a status chip per call in
// the meeting's header that follows the call (calling, ringing, then how
// it ended) and fades once it is over. An answered phone joins as a phone
// tile (meeting-phones.js). meeting.js places the button and the chips.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { handsetIcon } from "../softphone-ui.js";
import { ErrorBox, errorText, h } from "../ui.js";
import { phoneIcon, svg } from "./meeting-phones.js";
import { applyPhoneEvent, byNumber, phoneState } from "./phones.js";

/** @typedef {import("../ws.js").ConsoleClient} ConsoleClient */
/** @typedef {import("../ws.js").ConsoleEvent} ConsoleEvent */
/** @typedef {import("../i18n.js").I18n} I18n */
/** @typedef {import("./phones.js").Phone} Phone */

/**
 * @typedef {object} Entry one number of the phone directory.
 * @property {"extension" | "group"} kind
 * @property {string} number
 * @property {string} name
 * @property {string} department
 */

/**
 * @typedef {object} Chip one dial-out as the header shows it.
 * @property {string} number
 * @property {string} state calling, a server state (ringing, answered, …) or lost
 * @property {HTMLElement} el
 * @property {() => void} close stops listening to the call's events
 * @property {ReturnType<typeof setTimeout> | undefined} timer the fade
 */

/** What conference.dial_out accepts: an extension or ring group. */
const NUMBER_RE = /^\d{2,5}$/;

/** The states after which a dial-out is over; "lost": the connection dropped first. */
const FINAL_STATES = Object.freeze(["answered", "busy", "declined", "no_answer", "unavailable", "unknown_number", "failed", "lost"]);

/** How long a chip stays once its call is over: an answered phone shows as a tile at once, a failure needs reading. */
const ANSWERED_MS = 4000;
const FAILED_MS = 8000;
/** The fade itself (the CSS transition of .dialout-chip-leaving). */
const FADE_MS = 300;

/**
 * dialOutTone groups the states by how they look: in progress, good, a
 * person's "no" (busy, declined, no answer) or a failure.
 * @param {string} state
 * @returns {"progress" | "ok" | "warn" | "bad"}
 */
export function dialOutTone(state) {
  switch (state) {
    case "calling":
    case "ringing":
      return "progress";
    case "answered":
      return "ok";
    case "busy":
    case "declined":
    case "no_answer":
      return "warn";
    default:
      return "bad";
  }
}

/**
 * matchEntry reports whether a directory entry matches what was typed:
 * every word of the query is in its number, name or department.
 * @param {Entry} e
 * @param {string} query
 * @returns {boolean}
 */
export function matchEntry(e, query) {
  const hay = `${e.number} ${e.name} ${e.department}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

/**
 * groupIcon draws two people (a ring group) in currentColor.
 * @returns {SVGElement}
 */
function groupIcon() {
  return svg(
    "svg",
    { class: "phone-icon", viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" },
    svg("circle", { cx: "9", cy: "8", r: "3.4", fill: "currentColor" }),
    svg("path", { d: "M2.5 19.5c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6z", fill: "currentColor" }),
    svg("circle", { cx: "16.5", cy: "8.6", r: "2.8", fill: "currentColor", opacity: "0.6" }),
    svg("path", { d: "M16.2 13.6c3.1.1 5.3 2.3 5.3 5.9h-4.4c0-2.4-.9-4.4-2.5-5.6.5-.2 1-.3 1.6-.3z", fill: "currentColor", opacity: "0.6" }),
  );
}

/**
 * searchIcon draws a magnifier in currentColor.
 * @returns {SVGElement}
 */
function searchIcon() {
  return svg(
    "svg",
    { class: "dialout-search-icon", viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" },
    svg("circle", { cx: "10.5", cy: "10.5", r: "6", fill: "none", stroke: "currentColor", "stroke-width": "2" }),
    svg("path", { d: "M15 15l5 5", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round" }),
  );
}

/**
 * createDialOut builds the host's dial-out: the button (hidden until
 * meeting.js shows it to a host) that opens the dialog, and the strip of
 * status chips for the header.
 * @param {object} ctx
 * @param {I18n} ctx.i18n
 * @param {ConsoleClient} ctx.client
 * @returns {{button: HTMLButtonElement, strip: HTMLElement, relocalize: () => void, destroy: () => void}}
 */
export function createDialOut(ctx) {
  const { i18n, client } = ctx;
  const button = h(
    "button",
    { class: "btn btn-small dialout-open", testid: "meeting-dialout", attrs: { type: "button", hidden: true } },
    phoneIcon(),
    h("span", { i18n: "meeting.dialout" }),
  );
  const strip = h("div", { class: "dialout-strip", testid: "dialout-strip", attrs: { role: "status", "aria-live": "polite" } });
  /** @type {Set<Chip>} */
  const chips = new Set();
  /** @type {Entry[]} the directory as last loaded, kept for the chips' names */
  let directory = [];
  /** @type {{render: () => void, close: () => void} | null} */
  let dialog = null;

  /**
   * nameOf is a number's name in the directory, or "".
   * @param {string} number
   */
  const nameOf = (number) => directory.find((e) => e.number === number)?.name ?? "";

  /** @param {Chip} c */
  function renderChip(c) {
    const name = nameOf(c.number);
    c.el.dataset.state = c.state;
    c.el.className = `dialout-chip dialout-chip-${dialOutTone(c.state)}`;
    c.el.replaceChildren(
      h("span", { class: "dialout-chip-icon" }, phoneIcon()),
      h("span", { class: "dialout-chip-who" }, name ? h("strong", { class: "dialout-chip-name", text: name }) : null, h("span", { class: "mono dialout-chip-number", text: c.number })),
      h("span", { class: "dialout-chip-state", testid: "dialout-state-text", text: i18n.t(`meeting.dialout_state_${c.state}`) }),
    );
    c.el.title = `${name ? `${name} ` : ""}${c.number}: ${i18n.t(`meeting.dialout_state_${c.state}`)}`;
  }

  /**
   * @param {Chip} c
   * @param {string} state
   */
  function setState(c, state) {
    // Once the outcome is known nothing follows it; a state this page does
    // not know (a newer server's) leaves the chip as it is.
    if (FINAL_STATES.includes(c.state) || !(FINAL_STATES.includes(state) || state === "ringing")) return;
    c.state = state;
    renderChip(c);
    if (!FINAL_STATES.includes(c.state)) return;
    c.close();
    c.timer = setTimeout(() => fade(c), c.state === "answered" ? ANSWERED_MS : FAILED_MS);
  }

  /** @param {Chip} c */
  function fade(c) {
    c.el.classList.add("dialout-chip-leaving");
    c.timer = setTimeout(() => drop(c), FADE_MS);
  }

  /** @param {Chip} c */
  function drop(c) {
    clearTimeout(c.timer);
    c.close();
    c.el.remove();
    chips.delete(c);
  }

  /**
   * call starts a dial-out to number and shows its chip. It resolves to
   * null once the server took the call, or to why it did not.
   * @param {string} number
   * @returns {Promise<(() => string) | null>}
   */
  async function call(number) {
    if (!NUMBER_RE.test(number)) return () => i18n.t("meeting.dialout_number_bad");
    const same = [...chips].filter((c) => c.number === number);
    if (same.some((c) => !FINAL_STATES.includes(c.state))) {
      return () => i18n.t("meeting.dialout_already", { name: nameOf(number) || number });
    }
    for (const c of same) drop(c); // an old outcome of this number, still fading
    /** @type {Chip} */
    const c = { number, state: "calling", el: h("div", { testid: "dialout-status", data: { number } }), close: () => {}, timer: undefined };
    chips.add(c);
    renderChip(c);
    strip.append(c.el);
    const handle = client.stream(
      REQUEST_TYPES.CONFERENCE_DIAL_OUT,
      { number },
      (ev) => {
        if (ev.kind === "dial_out.state") setState(c, String(ev.data?.state ?? ""));
      },
      () => setState(c, "lost"),
    );
    c.close = handle.close;
    try {
      await handle.result;
      return null;
    } catch (err) {
      drop(c);
      return () => dialOutErrorText(i18n, err);
    }
  }

  button.addEventListener("click", () => {
    dialog ??= openDialOutDialog({
      i18n,
      client,
      call,
      onDirectory: (entries) => {
        directory = entries;
        for (const c of chips) renderChip(c);
      },
      onClose: () => {
        dialog = null;
        button.focus();
      },
    });
  });
  i18n.translate(button);

  return {
    button,
    strip,
    relocalize() {
      for (const c of chips) renderChip(c);
      dialog?.render();
    },
    destroy() {
      dialog?.close();
      for (const c of [...chips]) drop(c);
    },
  };
}

/**
 * dialOutErrorText explains why a dial-out did not start.
 * @param {I18n} i18n
 * @param {unknown} err
 * @returns {string}
 */
function dialOutErrorText(i18n, err) {
  const code = /** @type {{code?: unknown}} */ (err ?? {}).code;
  if (code === "not_allowed") return i18n.t("meeting.dialout_not_host");
  return errorText(i18n, err);
}

/**
 * openDialOutDialog shows the dial-out dialog: a search box that also
 * takes a number, the directory below it (extensions, then ring groups,
 * each with its phone's registration), and Call. Choosing an entry, or
 * Call with a number typed, starts the call; the dialog closes once the
 * server took it, or shows why not.
 * @param {object} ctx
 * @param {I18n} ctx.i18n
 * @param {ConsoleClient} ctx.client
 * @param {(number: string) => Promise<(() => string) | null>} ctx.call
 * @param {(entries: Entry[]) => void} ctx.onDirectory
 * @param {() => void} ctx.onClose
 * @returns {{render: () => void, close: () => void}}
 */
function openDialOutDialog(ctx) {
  const { i18n, client } = ctx;
  const input = h("input", {
    class: "dialout-search",
    testid: "dialout-number",
    i18nPlaceholder: "meeting.dialout_search",
    i18nAriaLabel: "meeting.dialout_search",
    attrs: { type: "search", maxlength: 64, autocomplete: "off", spellcheck: "false", enterkeyhint: "go" },
  });
  const callBtn = h("button", { class: "btn btn-primary dialout-call", testid: "dialout-call", attrs: { type: "button", disabled: true } }, handsetIcon());
  const callLabel = h("span");
  callBtn.append(callLabel);
  const list = h("ul", { class: "dialout-list", testid: "dialout-list", attrs: { role: "list" } });
  const note = h("p", { class: "dialout-note muted small", testid: "dialout-note" });
  const error = new ErrorBox("dialout-error");
  const close = h("button", { class: "btn btn-plain", i18n: "meeting.close", attrs: { type: "button" } });
  const dlg = h(
    "dialog",
    { class: "dialog dialog-dialout", testid: "dialout-dialog", attrs: { "aria-labelledby": "dialout-title" } },
    h(
      "div",
      { class: "stack" },
      h(
        "div",
        { class: "dialout-head" },
        h("span", { class: "dialout-head-icon" }, phoneIcon()),
        h("div", {}, h("h2", { class: "dialog-title", i18n: "meeting.dialout_title", attrs: { id: "dialout-title" } }), h("p", { class: "muted small", i18n: "meeting.dialout_hint" })),
      ),
      h("div", { class: "dialout-search-row" }, h("label", { class: "dialout-search-box" }, searchIcon(), input), callBtn),
      error.el,
      h("div", { class: "dialout-list-box" }, list, note),
      h("div", { class: "dialog-actions" }, close),
    ),
  );
  /** @type {Entry[] | null} null while loading */
  let entries = null;
  /** @type {(() => string) | null} why the directory could not be loaded */
  let loadError = null;
  /** @type {Map<string, Phone>} registration by extension number */
  const phones = new Map();
  /** @type {Map<string, HTMLElement>} each shown extension's presence label */
  const presence = new Map();
  let busy = false;

  /** the typed text, when it is a number that can be called as it is */
  const typedNumber = () => (NUMBER_RE.test(input.value.trim()) ? input.value.trim() : "");

  function renderCall() {
    const n = typedNumber();
    callLabel.textContent = n ? i18n.t("meeting.dialout_call_number", { number: n }) : i18n.t("meeting.dialout_call");
    callBtn.disabled = busy || !n;
  }

  /** @param {string} number */
  function renderPresence(number) {
    const el = presence.get(number);
    const p = phones.get(number);
    if (!el) return;
    const st = p ? phoneState(p) : "";
    el.hidden = !st;
    el.className = `dialout-presence dialout-presence-${st}`;
    el.textContent = st ? i18n.t(`phones.state.${st}`) : "";
  }

  /**
   * @param {Entry} e
   * @returns {HTMLElement}
   */
  function entryRow(e) {
    const pres = h("span", { class: "dialout-presence", attrs: { hidden: true } });
    if (e.kind === "extension") presence.set(e.number, pres);
    const sub = [e.number, e.department].filter(Boolean).join(" · ");
    const btn = h(
      "button",
      { class: "dialout-entry", testid: "dialout-entry", data: { number: e.number, kind: e.kind }, attrs: { type: "button", disabled: busy } },
      h("span", { class: `dialout-avatar dialout-avatar-${e.kind}` }, e.kind === "group" ? groupIcon() : phoneIcon()),
      h("span", { class: "dialout-entry-text" }, h("span", { class: "dialout-entry-name", text: e.name || e.number }), h("span", { class: "dialout-entry-sub mono", text: sub })),
      e.kind === "extension" ? pres : null,
      h("span", { class: "dialout-entry-go", attrs: { "aria-hidden": "true" } }, handsetIcon()),
    );
    btn.setAttribute("aria-label", i18n.t("meeting.dialout_call_entry", { name: e.name || e.number, number: e.number }));
    btn.addEventListener("click", () => void start(e.number));
    btn.addEventListener("keydown", (ev) => moveFocus(ev, btn));
    renderPresence(e.number);
    return h("li", {}, btn);
  }

  /** render draws the list for what is typed, and every label. */
  function render() {
    i18n.translate(dlg);
    renderCall();
    error.relocalize();
    presence.clear();
    const q = input.value.trim();
    const shown = (entries ?? []).filter((e) => matchEntry(e, q));
    /** @type {HTMLElement[]} */
    const rows = [];
    for (const [kind, key] of /** @type {const} */ ([["extension", "phones.list.title"], ["group", "rg.title"]])) {
      const of = shown.filter((e) => e.kind === kind);
      if (of.length === 0) continue;
      rows.push(h("li", { class: "dialout-section", text: i18n.t(key), attrs: { role: "presentation" } }), ...of.map(entryRow));
    }
    list.replaceChildren(...rows);
    list.hidden = rows.length === 0;
    /** @type {string} */
    let text = "";
    if (loadError) text = loadError();
    else if (!entries) text = i18n.t("common.loading");
    else if (shown.length === 0 && typedNumber()) text = i18n.t("meeting.dialout_not_listed", { number: typedNumber() });
    else if (shown.length === 0) text = i18n.t("meeting.dialout_none");
    note.textContent = text;
    note.hidden = !text;
    note.classList.toggle("dialout-note-error", Boolean(loadError));
  }

  /**
   * moveFocus walks the entries with the arrow keys; up from the first
   * goes back to the search box.
   * @param {KeyboardEvent} ev
   * @param {HTMLElement | null} from the focused entry, null for the search box
   */
  function moveFocus(ev, from) {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    const all = /** @type {HTMLButtonElement[]} */ ([...list.querySelectorAll(".dialout-entry")]);
    const at = from ? all.indexOf(/** @type {HTMLButtonElement} */ (from)) : -1;
    const next = ev.key === "ArrowDown" ? at + 1 : at - 1;
    ev.preventDefault();
    if (next < 0) input.focus();
    else all[Math.min(next, all.length - 1)]?.focus();
  }

  /**
   * start calls number; the dialog closes once the call has started.
   * @param {string} number
   */
  async function start(number) {
    if (busy) return;
    busy = true;
    error.hide();
    for (const b of list.querySelectorAll("button")) b.disabled = true;
    renderCall();
    const why = await ctx.call(number);
    busy = false;
    if (!why) {
      finish();
      return;
    }
    error.show(why);
    render();
  }

  async function load() {
    const [ext, groups] = await Promise.allSettled([
      client.request(REQUEST_TYPES.VOIP_EXTENSIONS_LIST, {}),
      client.request(REQUEST_TYPES.VOIP_RINGGROUPS_LIST, {}),
    ]);
    /** @type {Entry[]} */
    const out = [];
    if (ext.status === "fulfilled") {
      for (const e of ext.value?.extensions ?? []) out.push({ kind: "extension", number: e.number, name: e.name ?? "", department: e.department ?? "" });
    }
    if (groups.status === "fulfilled") {
      for (const g of groups.value?.ring_groups ?? []) out.push({ kind: "group", number: g.number, name: g.name ?? "", department: "" });
    }
    out.sort((a, b) => byNumber(a.number, b.number));
    const failed = ext.status === "rejected" ? ext.reason : groups.status === "rejected" ? groups.reason : null;
    if (failed && out.length === 0) loadError = () => errorText(i18n, failed);
    entries = out;
    ctx.onDirectory(out);
    if (dlg.open) render();
  }

  input.addEventListener("input", () => {
    error.hide();
    render();
  });
  input.addEventListener("keydown", (ev) => {
    moveFocus(ev, null);
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    const shown = (entries ?? []).filter((e) => matchEntry(e, input.value.trim()));
    const n = typedNumber() || (shown.length === 1 ? shown[0].number : "");
    if (n) void start(n);
    else error.show(() => i18n.t("meeting.dialout_number_bad"));
  });
  callBtn.addEventListener("click", () => {
    const n = typedNumber();
    if (n) void start(n);
  });
  close.addEventListener("click", () => finish());

  // Whether each extension's phone is registered, live while the dialog is open.
  const unsubscribe = client.subscribe(
    [TOPICS.PHONES],
    (ev) => {
      const changed = applyPhoneEvent(phones, ev);
      if (changed) renderPresence(changed);
      else for (const n of presence.keys()) renderPresence(n);
    },
    () => {}, // without it the list just shows no registration
  );

  let done = false;
  function finish() {
    if (done) return;
    done = true;
    unsubscribe();
    if (dlg.open) dlg.close();
    dlg.remove();
    ctx.onClose();
  }
  dlg.addEventListener("close", finish);

  document.body.append(dlg);
  render();
  dlg.showModal();
  input.focus();
  void load().catch((err) => {
    loadError = () => errorText(i18n, err);
    entries = [];
    render();
  });
  return { render, close: finish };
}
