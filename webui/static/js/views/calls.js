// @ts-check
// The Phones page's "Live calls" panel, for admins and facilities staff:
// every call in progress from the "voip.calls" topic (who calls whom, who
// is ringing or talking after forwarding, the state, a running duration
// and the codec), updated live. Admins can hang a call up, after a
// confirmation. Ended calls hand their record to the call records panel.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { ErrorBox, confirmDialog, errorText, formatTime, h } from "../ui.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../i18n.js").I18n} I18n */

/**
 * @typedef {object} Call a live call, as voip.calls.list and the topic carry it.
 * @property {string} id
 * @property {string} caller the calling extension.
 * @property {string} callee the number dialled.
 * @property {string} target the extension ringing or talking, after forwarding.
 * @property {"ringing" | "answered" | "held" | "ended"} state
 * @property {string} started RFC 3339.
 * @property {string} [answered] RFC 3339, once answered.
 * @property {string} [codec]
 */

/**
 * @typedef {object} CallRecord a finished call (see call-records.js).
 * @property {number} id
 * @property {string} call_id
 * @property {string} caller
 * @property {string} callee
 * @property {string} final_target
 * @property {string} started
 * @property {string} [answered]
 * @property {string} [ended]
 * @property {number} duration_ms
 * @property {string} result
 * @property {string} [codec]
 */

/**
 * applyCallEvent applies one event of the voip.calls topic to the map of
 * live calls by id. A snapshot replaces everything; a change carries the
 * call's whole new state; an end (or a change to "ended") removes it. It
 * returns the record of a call that ended, if the event carried one.
 * @param {Map<string, Call>} calls
 * @param {{kind: string, data: any}} ev
 * @returns {CallRecord | null}
 */
export function applyCallEvent(calls, ev) {
  if (ev.kind === "snapshot") {
    calls.clear();
    for (const c of ev.data?.calls ?? []) calls.set(c.id, c);
    return null;
  }
  /** @type {Call | undefined} */
  const c = ev.data?.call;
  if (!c?.id) return null;
  if (ev.kind === "voip.call_ended" || c.state === "ended") {
    calls.delete(c.id);
    return ev.data?.record ?? null;
  }
  calls.set(c.id, c);
  return null;
}

/**
 * callSeconds is how long a call has been talking (since it was answered)
 * or ringing (since it started), at the time nowMs.
 * @param {Call} c
 * @param {number} nowMs
 * @returns {number}
 */
export function callSeconds(c, nowMs) {
  const from = Date.parse(c.answered || c.started);
  if (Number.isNaN(from)) return 0;
  return Math.max(0, Math.floor((nowMs - from) / 1000));
}

/**
 * formatClock shows a duration as a phone does: "0:07", "12:34",
 * "1:02:03". It reads the same in both languages.
 * @param {number} seconds
 * @returns {string}
 */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hr = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return hr > 0 ? `${hr}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** The badge class of each call state. */
const STATE_BADGE = Object.freeze({ ringing: "badge-starting", answered: "badge-running", held: "badge-result-denied", ended: "badge-idle" });

/**
 * numberLabel shows a number with the name the directory gives it.
 * @param {string} number
 * @param {(number: string) => string} nameOf
 * @returns {HTMLElement}
 */
export function numberLabel(number, nameOf) {
  const name = number ? nameOf(number) : "";
  return h("span", { class: "party" }, h("span", { class: "mono strong", text: number || "—" }), name ? h("span", { class: "muted party-name", text: name }) : null);
}

/**
 * calledCell is the "called" column: the number dialled and, when the
 * call was forwarded or went to a ring group, the extension it reached.
 * @param {I18n} i18n
 * @param {string} callee
 * @param {string} target
 * @param {(number: string) => string} nameOf
 * @returns {HTMLTableCellElement}
 */
export function calledCell(i18n, callee, target, nameOf) {
  return h(
    "td",
    { class: "col-party" },
    numberLabel(callee, nameOf),
    target && target !== callee ? h("span", { class: "tag tag-plain", testid: "call-target", text: `→ ${target}`, attrs: { title: i18n.t("calls.target_title", { to: target }) } }) : null,
  );
}

/**
 * mountLiveCalls builds the live calls panel and subscribes to the
 * voip.calls topic. onCount hears the number of live calls after each
 * change, onEnded the record of each call that ends, onSnapshot each
 * snapshot (the first one, and after a reconnect).
 * @param {AppContext} ctx
 * @param {object} opts
 * @param {(number: string) => string} opts.nameOf the directory name of a number, or "".
 * @param {(n: number) => void} opts.onCount
 * @param {(r: CallRecord) => void} opts.onEnded
 * @param {() => void} opts.onSnapshot
 * @returns {{el: HTMLElement, render: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountLiveCalls(ctx, opts) {
  const { client, i18n, notices, session } = ctx;
  const admin = session.role === "admin";
  /** @type {Map<string, Call>} */
  const calls = new Map();
  /** Calls changed by a live event since the last render: they flash once. */
  /** @type {Set<string>} */
  const fresh = new Set();
  /** The server's clock minus this browser's, from the last snapshot. */
  let skewMs = 0;
  /** The duration cells to tick each second, by call. */
  /** @type {{cell: HTMLElement, call: Call}[]} */
  let ticking = [];

  const error = new ErrorBox("calls-error");
  const count = h("span", { class: "muted small", testid: "calls-count" });
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty-line", testid: "calls-empty", i18n: "calls.empty" });
  const cols = ["calls.col.caller", "calls.col.callee", "calls.col.state", "calls.col.duration", "calls.col.codec"];
  if (admin) cols.push("phones.col.actions");
  const table = h(
    "table",
    { class: "table table-dense", testid: "calls-table" },
    h("thead", {}, h("tr", {}, ...cols.map((k) => h("th", { i18n: k, class: k.endsWith("actions") ? "col-actions" : "" })))),
    tbody,
  );
  const el = h(
    "section",
    { class: "card card-calls", testid: "calls-card" },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "calls.title" }), " ", count)),
    error.el,
    h("div", { class: "table-scroll" }, table, empty),
  );

  /** @param {Call} c */
  const hangup = async (c) => {
    const vars = { caller: c.caller, callee: c.callee };
    const ok = await confirmDialog(i18n, i18n.t("calls.confirm_hangup", vars), { danger: true, confirmKey: "calls.hangup" });
    if (!ok) return;
    try {
      await client.request(REQUEST_TYPES.VOIP_CALLS_HANGUP, { call_id: c.id });
      notices.show(() => i18n.t("calls.hung_up", vars), "ok");
    } catch (err) {
      notices.show(() => errorText(i18n, err), "error");
    }
  };

  /**
   * @param {Call} c
   * @returns {HTMLTableRowElement}
   */
  const row = (c) => {
    const clock = h("span", { class: "mono", testid: "call-duration", attrs: { title: formatTime(c.answered || c.started) } });
    ticking.push({ cell: clock, call: c });
    const state = c.state in STATE_BADGE ? c.state : "ended";
    return h(
      "tr",
      { class: fresh.has(c.id) ? "row-fresh" : "", data: { callId: c.id, state: c.state } },
      h("td", { class: "col-party" }, numberLabel(c.caller, opts.nameOf)),
      calledCell(i18n, c.callee, c.target, opts.nameOf),
      h("td", {}, h("span", { class: `badge ${STATE_BADGE[/** @type {keyof typeof STATE_BADGE} */ (state)]}`, testid: "call-state", text: i18n.t(`calls.state.${state}`) })),
      h("td", { class: "nowrap" }, clock),
      h("td", { class: "mono", text: c.codec || "—" }),
      admin
        ? h(
            "td",
            { class: "col-actions" },
            h("button", { class: "btn btn-small btn-danger-quiet", data: { action: "hangup" }, text: i18n.t("calls.hangup"), attrs: { type: "button" }, on: { click: () => hangup(c) } }),
          )
        : null,
    );
  };

  const tick = () => {
    const now = Date.now() + skewMs;
    for (const { cell, call } of ticking) cell.textContent = formatClock(callSeconds(call, now));
  };

  const render = () => {
    ticking = [];
    const list = [...calls.values()].sort((a, b) => Date.parse(a.started) - Date.parse(b.started));
    tbody.replaceChildren(...list.map(row));
    fresh.clear();
    table.hidden = list.length === 0;
    empty.hidden = list.length > 0;
    count.textContent = list.length ? i18n.t("calls.count", { n: list.length }) : "";
    tick();
  };
  const timer = setInterval(tick, 1000);

  const unsubscribe = client.subscribe(
    [TOPICS.CALLS],
    (ev) => {
      if (ev.kind === "snapshot") {
        const at = Date.parse(ev.at);
        skewMs = Number.isNaN(at) ? 0 : at - Date.now();
      }
      const record = applyCallEvent(calls, ev);
      const id = ev.data?.call?.id;
      if (ev.kind !== "snapshot" && id && calls.has(id)) fresh.add(id);
      error.hide();
      render();
      opts.onCount(calls.size);
      if (record) opts.onEnded(record);
      if (ev.kind === "snapshot") opts.onSnapshot();
    },
    (err) => error.show(() => errorText(i18n, err)),
  );
  render();

  return {
    el,
    render,
    relocalize() {
      render();
      error.relocalize();
    },
    destroy() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
