// @ts-check
// The Phones page's "Call records" panel, for admins: finished calls,
// newest first, filtered by extension, result and a range of days, with an
// "Export CSV" link that downloads the same selection. Calls that end
// while the page is open appear at the top when they match the filters.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, errorText, formatTime, h } from "../ui.js";
import { calledCell, formatClock, numberLabel } from "./calls.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("./calls.js").CallRecord} CallRecord */

/** Where the records are exported (webui.RecordsCSVPath). */
export const RECORDS_CSV_PATH = "/api/voip/records.csv";

/** The most rows the panel asks for; the CSV export holds up to 1000. */
export const RECORDS_LIMIT = 200;

/** Every result a record can have, in the order the filter lists them. */
export const RESULTS = Object.freeze(["answered", "busy", "no_answer", "unavailable", "unknown_number", "cancelled", "refused", "failed"]);

/** The badge class of each result; the others are plain grey. */
const RESULT_BADGE = Object.freeze(
  /** @type {Record<string, string>} */ ({
    answered: "badge-running",
    unavailable: "badge-result-denied",
    unknown_number: "badge-result-denied",
    refused: "badge-failed",
    failed: "badge-failed",
  }),
);

/** What the server accepts as an extension filter. */
const EXTENSION_RE = /^[0-9A-Za-z*#+._-]{1,32}$/;

/**
 * @typedef {object} RecordFilter the filters as the server takes them.
 * @property {string} extension
 * @property {string} result
 * @property {string} from RFC 3339, or "".
 * @property {string} to RFC 3339, or "".
 */

/**
 * dayStart is local midnight at the start of a date input's day, plus
 * addDays days, as RFC 3339; "" for no date.
 * @param {string} value "2026-03-02", as <input type=date> gives it.
 * @param {number} [addDays]
 * @returns {string}
 */
export function dayStart(value, addDays = 0) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return "";
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + addDays).toISOString();
}

/**
 * recordFilter turns the form's values into the filters, or names the
 * dictionary key of what is wrong with them. The date range takes whole
 * days: from the start of the first to the end of the last.
 * @param {{extension: string, result: string, fromDay: string, toDay: string}} v
 * @returns {{filter: RecordFilter} | {problem: string}}
 */
export function recordFilter(v) {
  const extension = v.extension.trim();
  if (extension && !EXTENSION_RE.test(extension)) return { problem: "records.bad_extension" };
  if (v.fromDay && v.toDay && v.toDay < v.fromDay) return { problem: "records.bad_range" };
  return { filter: { extension, result: RESULTS.includes(v.result) ? v.result : "", from: dayStart(v.fromDay), to: dayStart(v.toDay, 1) } };
}

/**
 * csvHref is the export link of the filters: only the ones set.
 * @param {RecordFilter} f
 * @returns {string}
 */
export function csvHref(f) {
  const q = new URLSearchParams();
  for (const k of /** @type {const} */ (["extension", "result", "from", "to"])) if (f[k]) q.set(k, f[k]);
  const s = q.toString();
  return s ? `${RECORDS_CSV_PATH}?${s}` : RECORDS_CSV_PATH;
}

/**
 * recordMatches reports whether a record that just ended belongs in a list
 * with filter f, as the server would select it.
 * @param {CallRecord} r
 * @param {RecordFilter} f
 * @returns {boolean}
 */
export function recordMatches(r, f) {
  if (f.extension && r.caller !== f.extension && r.callee !== f.extension && r.final_target !== f.extension) return false;
  if (f.result && r.result !== f.result) return false;
  const t = Date.parse(r.started);
  if (f.from && !(t >= Date.parse(f.from))) return false;
  if (f.to && !(t < Date.parse(f.to))) return false;
  return true;
}

/**
 * mountCallRecords builds the call records panel. It loads when refresh
 * is called (the page does so with each calls snapshot) and takes calls
 * that end from add.
 * @param {AppContext} ctx
 * @param {{nameOf: (number: string) => string}} opts
 * @returns {{el: HTMLElement, refresh: () => void, add: (r: CallRecord) => void, render: () => void, relocalize: () => void}}
 */
export function mountCallRecords(ctx, opts) {
  const { client, i18n } = ctx;
  /** @type {CallRecord[]} */
  let records = [];
  /** @type {RecordFilter} */
  let filter = { extension: "", result: "", from: "", to: "" };
  let loadSeq = 0;
  let loaded = false;
  /** @type {Set<number>} */
  const fresh = new Set();

  /**
   * @param {string} key
   * @param {HTMLElement} control
   */
  const field = (key, control) => h("label", { class: "field" }, h("span", { class: "field-label", i18n: key }), control);
  const fExt = h("input", { testid: "records-filter-extension", i18nPlaceholder: "records.filter.extension_ph", attrs: { autocomplete: "off", spellcheck: "false", inputmode: "tel" } });
  const fResult = h(
    "select",
    { testid: "records-filter-result" },
    h("option", { i18n: "records.filter.any", attrs: { value: "" } }),
    ...RESULTS.map((r) => h("option", { i18n: `records.result.${r}`, attrs: { value: r } })),
  );
  const fFrom = h("input", { testid: "records-filter-from", attrs: { type: "date" } });
  const fTo = h("input", { testid: "records-filter-to", attrs: { type: "date" } });
  const clear = h("button", { class: "btn btn-plain", i18n: "records.filter.clear", attrs: { type: "button" } });
  const filters = h(
    "form",
    { class: "create-row records-filters", i18nAriaLabel: "records.filters", attrs: { novalidate: true } },
    field("records.filter.extension", fExt),
    field("records.filter.result", fResult),
    field("records.filter.from", fFrom),
    field("records.filter.to", fTo),
    h("div", { class: "field field-button" }, h("div", { class: "button-row" }, h("button", { class: "btn btn-primary", testid: "records-apply", i18n: "records.filter.apply", attrs: { type: "submit" } }), clear)),
  );
  const exportLink = h("a", { class: "btn btn-small", testid: "records-export", i18n: "records.export", attrs: { href: RECORDS_CSV_PATH, download: "call-records.csv" } });
  const count = h("span", { class: "muted small", testid: "records-count" });
  const error = new ErrorBox("records-error");
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", testid: "records-empty", i18n: "records.empty", attrs: { hidden: true } });
  const limited = h("p", { class: "muted small", testid: "records-limited", attrs: { hidden: true } });
  const cols = ["records.col.started", "calls.col.caller", "calls.col.callee", "records.col.result", "records.col.duration", "calls.col.codec"];

  const el = h(
    "section",
    { class: "card card-fill card-records", testid: "records-card" },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "records.title" }), " ", count), exportLink),
    filters,
    error.el,
    h(
      "div",
      { class: "table-scroll" },
      h("table", { class: "table table-dense", testid: "records-table" }, h("thead", {}, h("tr", {}, ...cols.map((k) => h("th", { i18n: k })))), tbody),
      empty,
    ),
    limited,
  );

  /**
   * @param {CallRecord} r
   * @returns {HTMLTableRowElement}
   */
  const row = (r) => {
    const known = RESULTS.includes(r.result);
    return h(
      "tr",
      { class: fresh.has(r.id) ? "row-fresh" : "", data: { recordId: String(r.id), callId: r.call_id, result: r.result } },
      h("td", { class: "nowrap", text: formatTime(r.started) }),
      h("td", { class: "col-party" }, numberLabel(r.caller, opts.nameOf)),
      calledCell(i18n, r.callee, r.final_target, opts.nameOf),
      h("td", {}, h("span", { class: `badge ${RESULT_BADGE[r.result] ?? ""}`, testid: "record-result", text: known ? i18n.t(`records.result.${r.result}`) : r.result })),
      h("td", { class: "mono nowrap", text: r.answered ? formatClock(r.duration_ms / 1000) : "—", attrs: { title: r.ended ? formatTime(r.ended) : null } }),
      h("td", { class: "mono", text: r.codec || "—" }),
    );
  };

  const render = () => {
    tbody.replaceChildren(...records.map(row));
    fresh.clear();
    empty.hidden = !loaded || records.length > 0;
    count.textContent = loaded ? i18n.t("records.count", { n: records.length }) : "";
    limited.hidden = records.length < RECORDS_LIMIT;
    limited.textContent = i18n.t("records.limited", { n: RECORDS_LIMIT });
    exportLink.setAttribute("href", csvHref(filter));
  };

  const refresh = async () => {
    const seq = ++loadSeq;
    /** @type {Record<string, unknown>} */
    const params = { limit: RECORDS_LIMIT };
    for (const [k, v] of Object.entries(filter)) if (v) params[k] = v;
    try {
      const res = await client.request(REQUEST_TYPES.VOIP_RECORDS_LIST, params);
      if (seq !== loadSeq) return;
      records = res?.records ?? [];
      loaded = true;
      error.hide();
      render();
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => errorText(i18n, err));
    }
  };

  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const got = recordFilter({ extension: fExt.value, result: fResult.value, fromDay: fFrom.value, toDay: fTo.value });
    if ("problem" in got) {
      const key = got.problem;
      error.show(() => i18n.t(key));
      return;
    }
    filter = got.filter;
    render();
    refresh();
  });
  clear.addEventListener("click", () => {
    filters.reset();
    filter = { extension: "", result: "", from: "", to: "" };
    render();
    refresh();
  });

  return {
    el,
    refresh,
    /** @param {CallRecord} r */
    add(r) {
      if (!loaded || !recordMatches(r, filter) || records.some((x) => x.id === r.id)) return;
      records.unshift(r);
      records.sort((a, b) => Date.parse(b.started) - Date.parse(a.started) || b.id - a.id);
      if (records.length > RECORDS_LIMIT) records.length = RECORDS_LIMIT;
      fresh.add(r.id);
      render();
    },
    render,
    relocalize() {
      render();
      error.relocalize();
    },
  };
}
