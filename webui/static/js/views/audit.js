// @ts-check
// The Audit page (admin): the audit log, newest first, with filters and
// paging by before_id. On the first page new entries from the "audit" topic
// appear at the top as they happen.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { ErrorBox, errorText, formatTime, h } from "../ui.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */

/**
 * @typedef {object} AuditEntry
 * @property {number} id
 * @property {string} at
 * @property {string} user
 * @property {string} role
 * @property {string} action
 * @property {string} target
 * @property {string} result ok | failed | denied
 * @property {string} detail
 * @property {string} source
 */

/**
 * @typedef {object} AuditFilter
 * @property {string} user exact username, or "".
 * @property {string} action action prefix, or "".
 * @property {string} since RFC 3339, or "".
 * @property {string} until RFC 3339, or "".
 */

/** Entries per page. */
const PAGE_SIZE = 50;

const RESULTS = new Set(["ok", "failed", "denied"]);

/**
 * matchesFilter reports whether a live entry belongs on a page with filter f.
 * @param {AuditEntry} e
 * @param {AuditFilter} f
 * @returns {boolean}
 */
export function matchesFilter(e, f) {
  if (f.user && e.user !== f.user) return false;
  if (f.action && !e.action.startsWith(f.action)) return false;
  const at = Date.parse(e.at);
  if (f.since && !(at >= Date.parse(f.since))) return false;
  if (f.until && !(at <= Date.parse(f.until))) return false;
  return true;
}

/**
 * localToRFC3339 turns a datetime-local value into an RFC 3339 time, or "".
 * @param {string} v
 * @returns {string}
 */
export function localToRFC3339(v) {
  if (!v) return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/**
 * mountAudit builds the Audit page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountAudit(ctx) {
  const { i18n, client } = ctx;

  /** @type {AuditEntry[]} */
  let entries = [];
  /** before_id of each page shown so far; the first page is 0. */
  let pages = [0];
  let nextBeforeID = 0;
  /** @type {AuditFilter} */
  let filter = { user: "", action: "", since: "", until: "" };
  let loadSeq = 0;
  let loaded = false;
  /** @type {Set<number>} */
  let fresh = new Set();

  /**
   * @param {string} key
   * @param {HTMLElement} control
   */
  const field = (key, control) => h("label", { class: "field" }, h("span", { class: "field-label", i18n: key }), control);
  const fUser = h("input", { testid: "audit-filter-user", attrs: { autocomplete: "off", autocapitalize: "none", spellcheck: "false" } });
  const fAction = h("input", { testid: "audit-filter-action", attrs: { autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "users." } });
  const fSince = h("input", { testid: "audit-filter-since", attrs: { type: "datetime-local", step: 1 } });
  const fUntil = h("input", { testid: "audit-filter-until", attrs: { type: "datetime-local", step: 1 } });
  const clear = h("button", { class: "btn btn-plain", i18n: "audit.filter.clear", attrs: { type: "button" } });
  const filters = h(
    "form",
    { class: "create-row", i18nAriaLabel: "audit.filters", attrs: { novalidate: true } },
    field("audit.filter.user", fUser),
    field("audit.filter.action", fAction),
    field("audit.filter.since", fSince),
    field("audit.filter.until", fUntil),
    h("div", { class: "field field-button" }, h("div", { class: "button-row" }, h("button", { class: "btn btn-primary", testid: "audit-apply", i18n: "audit.filter.apply", attrs: { type: "submit" } }), clear)),
  );

  const tbody = h("tbody");
  const error = new ErrorBox("audit-error");
  const empty = h("p", { class: "muted empty", i18n: "audit.empty", attrs: { hidden: true } });
  const newer = h("button", { class: "btn btn-plain", testid: "audit-newer", attrs: { type: "button" } }, "‹ ", h("span", { i18n: "audit.newer" }));
  const older = h("button", { class: "btn btn-plain", testid: "audit-older", attrs: { type: "button" } }, h("span", { i18n: "audit.older" }), " ›");
  const pageNo = h("span", { class: "muted small", testid: "audit-page" });
  const live = h("span", { class: "live small" });

  const el = h(
    "div",
    { class: "page page-audit" },
    h(
      "section",
      { class: "card card-fill" },
      filters,
      error.el,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "table table-dense", testid: "audit-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { class: "nowrap", i18n: "audit.col.time" }),
              h("th", { i18n: "audit.col.action" }),
              h("th", { i18n: "audit.col.user" }),
              h("th", { i18n: "audit.col.role" }),
              h("th", { i18n: "audit.col.target" }),
              h("th", { i18n: "audit.col.result" }),
              h("th", { i18n: "audit.col.source" }),
              h("th", { i18n: "audit.col.detail" }),
            ),
          ),
          tbody,
        ),
        empty,
      ),
      h("div", { class: "pager" }, live, h("div", { class: "pager-buttons" }, newer, pageNo, older)),
    ),
  );

  /**
   * @param {AuditEntry} e
   * @returns {HTMLTableRowElement}
   */
  const row = (e) => {
    const result = RESULTS.has(e.result) ? e.result : "unknown";
    return h(
      "tr",
      { class: fresh.has(e.id) ? "row-fresh" : "", data: { action: e.action, entryId: String(e.id), result: e.result } },
      h("td", { class: "nowrap", text: formatTime(e.at) }),
      h("td", { class: "mono", text: e.action }),
      h("td", { text: e.user || "—" }),
      h("td", { text: e.role ? (i18n.has(`role.${e.role}`) ? i18n.t(`role.${e.role}`) : e.role) : "—" }),
      h("td", { class: "wrap", text: e.target || "—" }),
      h("td", {}, h("span", { class: `badge badge-result-${result}`, text: RESULTS.has(e.result) ? i18n.t(`audit.result.${e.result}`) : e.result })),
      h("td", { class: "mono small", text: e.source || "—" }),
      h("td", { class: "wrap muted", text: e.detail || "" }),
    );
  };

  const render = () => {
    tbody.replaceChildren(...entries.map(row));
    empty.hidden = !loaded || entries.length > 0;
    newer.disabled = pages.length <= 1;
    older.disabled = nextBeforeID === 0;
    pageNo.textContent = i18n.t("audit.page", { n: pages.length });
    renderLive();
  };

  const renderLive = () => {
    const online = client.state === "online";
    live.dataset.i18n = !online ? "audit.waiting" : pages.length === 1 ? "audit.live" : "audit.paused";
    live.textContent = i18n.t(live.dataset.i18n);
    live.classList.toggle("live-on", online && pages.length === 1);
  };
  const offState = client.onState(renderLive);

  const load = async () => {
    const seq = ++loadSeq;
    /** @type {Record<string, unknown>} */
    const params = { limit: PAGE_SIZE };
    const before = pages[pages.length - 1];
    if (before) params.before_id = before;
    if (filter.user) params.user = filter.user;
    if (filter.action) params.action = filter.action;
    if (filter.since) params.since = filter.since;
    if (filter.until) params.until = filter.until;
    try {
      const res = await client.request(REQUEST_TYPES.AUDIT_LIST, params);
      if (seq !== loadSeq) return;
      entries = res?.entries ?? [];
      nextBeforeID = Number(res?.next_before_id ?? 0);
      loaded = true;
      fresh = new Set();
      error.hide();
      render();
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => errorText(i18n, err));
    }
  };

  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    filter = {
      user: fUser.value.trim(),
      action: fAction.value.trim(),
      since: localToRFC3339(fSince.value),
      until: localToRFC3339(fUntil.value),
    };
    pages = [0];
    load();
  });
  clear.addEventListener("click", () => {
    filters.reset();
    filter = { user: "", action: "", since: "", until: "" };
    pages = [0];
    load();
  });
  newer.addEventListener("click", () => {
    if (pages.length > 1) {
      pages.pop();
      load();
    }
  });
  older.addEventListener("click", () => {
    if (nextBeforeID) {
      pages.push(nextBeforeID);
      load();
    }
  });

  const unsubscribe = client.subscribe(
    [TOPICS.AUDIT],
    (ev) => {
      if (ev.kind === "snapshot") {
        // Sent on (re)subscribe and after this client fell behind: the
        // current page may be stale, so ask again with the filters.
        if (pages.length === 1 || !loaded) load();
        return;
      }
      if (ev.kind !== "audit.appended" || pages.length !== 1 || !loaded) return;
      /** @type {AuditEntry | undefined} */
      const e = ev.data?.entry;
      if (!e || !matchesFilter(e, filter) || entries.some((x) => x.id === e.id)) return;
      entries.unshift(e);
      fresh.add(e.id);
      if (entries.length > PAGE_SIZE) {
        entries.length = PAGE_SIZE;
        nextBeforeID = entries[entries.length - 1].id;
      }
      render();
    },
    (err) => error.show(() => errorText(i18n, err)),
  );
  render();

  return {
    el,
    relocalize() {
      render();
      error.relocalize();
    },
    destroy() {
      offState();
      unsubscribe();
    },
  };
}
