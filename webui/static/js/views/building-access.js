// @ts-check
// The Building page's access event search: every card decision, newest
// first, filtered by person, card, door, outcome and a range of days,
// with "Load older" paging and an "Export CSV" link that downloads the
// same selection. Decisions made while the tab is open appear at the top
// when they match the filters.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, formatTime, h } from "../ui.js";
import { ACCESS_CSV_PATH, accessCSVHref, accessFilter, accessMatches, accessParams, byName, noAccessFilter } from "./building-model.js";

/** @typedef {import("./building.js").BuildingPage} BuildingPage */
/** @typedef {import("./building-model.js").AccessEvent} AccessEvent */
/** @typedef {import("./building-model.js").AccessFilter} AccessFilter */

/** The most events the tab keeps (live ones push the oldest out). */
const KEEP = 1000;

/**
 * mountAccessSearch builds the Access events tab. It loads when first
 * shown.
 * @param {BuildingPage} page
 * @returns {{el: HTMLElement, activate: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountAccessSearch(page) {
  const { i18n, client } = page.ctx;
  /** @type {AccessEvent[]} */
  let events = [];
  /** @type {AccessFilter} */
  let filter = noAccessFilter();
  let next = 0;
  let loaded = false;
  let loadSeq = 0;
  /** @type {Set<number>} */
  const fresh = new Set();
  /** @type {{id: string, name: string}[]} */
  let holders = [];

  /**
   * @param {string} key
   * @param {HTMLElement} control
   */
  const field = (key, control) => h("label", { class: "field" }, h("span", { class: "field-label", i18n: key }), control);
  const holderList = h("datalist", { attrs: { id: "bld-holders" } });
  const fHolder = h("input", { testid: "access-filter-cardholder", i18nPlaceholder: "bld.access.cardholder_ph", attrs: { list: "bld-holders", autocomplete: "off", spellcheck: "false" } });
  const fCard = h("input", { testid: "access-filter-card", i18nPlaceholder: "bld.access.card_ph", attrs: { autocomplete: "off", spellcheck: "false", maxlength: 64 } });
  const fDoor = h("select", { testid: "access-filter-door" });
  const fGranted = h(
    "select",
    { testid: "access-filter-granted" },
    h("option", { i18n: "bld.access.any", attrs: { value: "" } }),
    h("option", { i18n: "bld.access.granted", attrs: { value: "true" } }),
    h("option", { i18n: "bld.access.denied", attrs: { value: "false" } }),
  );
  const fFrom = h("input", { testid: "access-filter-from", attrs: { type: "date" } });
  const fTo = h("input", { testid: "access-filter-to", attrs: { type: "date" } });
  const clear = h("button", { class: "btn btn-plain", i18n: "bld.access.clear", attrs: { type: "button" } });
  const form = h(
    "form",
    { class: "create-row access-filters", i18nAriaLabel: "bld.access.filters", attrs: { novalidate: true } },
    field("bld.access.cardholder", fHolder),
    field("bld.access.card", fCard),
    field("bld.access.door", fDoor),
    field("bld.access.outcome", fGranted),
    field("bld.access.from", fFrom),
    field("bld.access.to", fTo),
    h("div", { class: "field field-button" }, h("div", { class: "button-row" }, h("button", { class: "btn btn-primary", testid: "access-apply", i18n: "bld.access.apply", attrs: { type: "submit" } }), clear)),
    holderList,
  );
  const exportLink = h("a", { class: "btn btn-small", testid: "access-export", i18n: "bld.access.export", attrs: { href: ACCESS_CSV_PATH, download: "access-events.csv" } });
  const count = h("span", { class: "muted small", testid: "access-count" });
  const error = new ErrorBox("access-error");
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", testid: "access-empty", i18n: "bld.access.none", attrs: { hidden: true } });
  const more = h("button", { class: "btn btn-small", testid: "access-more", i18n: "bld.access.more", attrs: { type: "button", hidden: true } });
  const cols = ["bld.access.col.time", "bld.access.col.door", "bld.access.col.direction", "bld.access.col.person", "bld.access.col.card", "bld.access.col.outcome"];

  const el = h(
    "div",
    { class: "pane", testid: "building-access-pane" },
    h(
      "section",
      { class: "card card-fill" },
      h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "bld.access.title" }), " ", count), exportLink),
      form,
      error.el,
      h(
        "div",
        { class: "table-scroll" },
        h("table", { class: "table table-dense", testid: "access-table" }, h("thead", {}, h("tr", {}, ...cols.map((k) => h("th", { i18n: k })))), tbody),
        empty,
      ),
      h("div", { class: "pager" }, h("span", { class: "live live-on", i18n: "bld.access.live" }), more),
    ),
  );

  const fillDoors = () => {
    const keep = fDoor.value;
    fDoor.replaceChildren(
      h("option", { text: i18n.t("bld.access.any_door"), attrs: { value: "" } }),
      ...[...page.state.doors.values()].sort(byName).map((d) => h("option", { text: `${d.name} (${d.id})`, attrs: { value: d.id } })),
    );
    fDoor.value = keep;
  };

  /**
   * @param {AccessEvent} e
   */
  const row = (e) => {
    const reasonKey = `bld.reason.${e.reason}`;
    return h(
      "tr",
      { class: fresh.has(e.id) ? "row-fresh" : "", data: { eventId: String(e.id), granted: String(e.granted), door: e.door } },
      h("td", { class: "nowrap", text: formatTime(e.at) }),
      h("td", {}, h("span", { text: e.door_name || page.doorName(e.door) }), h("span", { class: "muted small mono id-tag", text: e.reader })),
      h("td", { text: i18n.t(`bld.dir.${e.direction === "out" ? "out" : "in"}`) }),
      h("td", { text: e.cardholder_name || (e.cardholder ? e.cardholder : i18n.t("bld.access.unknown")) }),
      h("td", { class: "mono", text: e.card }),
      h(
        "td",
        {},
        h("span", { class: `badge ${e.granted ? "badge-running" : "badge-result-denied"}`, testid: "access-outcome", text: i18n.t(e.granted ? "bld.access.granted" : "bld.access.denied") }),
        e.granted ? null : h("span", { class: "muted small id-tag", text: i18n.has(reasonKey) ? i18n.t(reasonKey) : e.reason }),
      ),
    );
  };

  const render = () => {
    tbody.replaceChildren(...events.map(row));
    fresh.clear();
    empty.hidden = !loaded || events.length > 0;
    count.textContent = loaded ? i18n.t("bld.access.count", { n: events.length }) : "";
    more.hidden = next === 0;
    exportLink.setAttribute("href", accessCSVHref(filter));
  };

  /**
   * @param {boolean} older load the page before the last one shown.
   */
  const load = async (older) => {
    const seq = ++loadSeq;
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_ACCESS_LIST, accessParams(filter, older ? next : 0));
      if (seq !== loadSeq) return;
      /** @type {AccessEvent[]} */
      const got = res?.events ?? [];
      events = older ? [...events, ...got.filter((e) => !events.some((x) => x.id === e.id))] : got;
      next = Number(res?.next_before_id ?? 0);
      loaded = true;
      error.hide();
      render();
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => page.explain(err));
    }
  };

  const loadHolders = async () => {
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_CARDHOLDERS_LIST, {});
      holders = (res?.cardholders ?? []).map((/** @type {{id: string, name: string}} */ c) => ({ id: c.id, name: c.name }));
      holderList.replaceChildren(...holders.map((c) => h("option", { text: c.name, attrs: { value: c.id } })));
    } catch {
      // The list is a convenience; an id can still be typed.
    }
  };

  /** holderID reads the cardholder field: an id, or a name from the list. */
  const holderID = () => {
    const v = fHolder.value.trim();
    return holders.find((c) => c.name === v)?.id ?? v;
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const got = accessFilter({ cardholder: holderID(), card: fCard.value, door: fDoor.value, granted: fGranted.value, fromDay: fFrom.value, toDay: fTo.value });
    if ("problem" in got) {
      const key = got.problem;
      error.show(() => i18n.t(key));
      return;
    }
    filter = got.filter;
    render();
    load(false);
  });
  clear.addEventListener("click", () => {
    form.reset();
    filter = noAccessFilter();
    render();
    load(false);
  });
  more.addEventListener("click", () => load(true));

  const offs = [
    page.on("access", (_door, e) => {
      if (!loaded || !e || !accessMatches(e, filter) || events.some((x) => x.id === e.id)) return;
      events = [e, ...events].slice(0, KEEP);
      fresh.add(e.id);
      render();
    }),
    page.on("doors", (id) => {
      if (id === "*") fillDoors();
    }),
  ];
  i18n.translate(el);
  fillDoors();
  render();

  let started = false;
  return {
    el,
    activate() {
      fillDoors();
      if (started) return;
      started = true;
      loadHolders();
      load(false);
    },
    relocalize() {
      fillDoors();
      render();
      error.relocalize();
    },
    destroy() {
      for (const off of offs) off();
    },
  };
}
