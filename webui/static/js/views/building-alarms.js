// @ts-check
// The Building page's alarms: the bar above every tab that flashes while
// an alarm is new (with the newest one and a quick acknowledge), and the
// Alarms tab: the open alarms (new, then acknowledged) with acknowledge
// and resolve, each asking for a comment, the recently resolved ones, and
// each alarm's history. An alarm with cameras (a door's linked cameras,
// or the camera a camera alarm is about) shows the first one live beside
// its details, in the tab and in the acknowledge and resolve dialogs.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, formatTime, h } from "../ui.js";
import { sortAlarms } from "./building-model.js";
import { CameraFeed, mountCameraView } from "./cameras-inline.js";

/** @typedef {import("./building.js").BuildingPage} BuildingPage */
/** @typedef {import("./building-model.js").Alarm} Alarm */

/** How many resolved alarms the tab lists. */
export const RESOLVED_LIMIT = 50;

/** @type {WeakMap<BuildingPage, CameraFeed>} each Building page's camera names and states. */
const feeds = new WeakMap();

/**
 * feedOf returns the page's camera feed, opened on first use; the
 * Alarms tab closes it with the page.
 * @param {BuildingPage} page
 * @returns {CameraFeed}
 */
function feedOf(page) {
  let f = feeds.get(page);
  if (!f) {
    f = new CameraFeed(page.ctx.client);
    feeds.set(page, f);
  }
  return f;
}

/**
 * alarmCamera is the camera an alarm shows live: the first of its
 * cameras, or "".
 * @param {Alarm} a
 * @returns {string}
 */
export function alarmCamera(a) {
  return a.cameras?.[0] ?? a.camera ?? "";
}

/**
 * alarmWhere is what an alarm is about, in words: the door and its floor,
 * or the controller, or the reader.
 * @param {BuildingPage} page
 * @param {Alarm} a
 * @returns {string}
 */
export function alarmWhere(page, a) {
  const { i18n } = page.ctx;
  if (a.door) {
    const floor = a.floor ? ` · ${page.floorLabel(a.floor)}` : "";
    return `${page.doorName(a.door)}${floor}`;
  }
  if (a.controller && a.reader) return i18n.t("bld.alarm.reader", { reader: a.reader, controller: a.controller });
  if (a.controller) {
    const c = page.state.controllers.get(a.controller);
    return i18n.t("bld.alarm.controller", { name: c?.name ?? a.controller });
  }
  if (a.camera) return i18n.t("bld.alarm.camera", { name: feedOf(page).name(a.camera) });
  return "—";
}

/**
 * alarmTitle is the alarm's kind in words.
 * @param {BuildingPage} page
 * @param {Alarm} a
 */
function alarmTitle(page, a) {
  const { i18n } = page.ctx;
  const key = `bld.alarm.kind.${a.kind}`;
  return i18n.has(key) ? i18n.t(key) : a.kind;
}

/**
 * handleAlarm asks for the comment of an acknowledgement or a
 * resolution and sends it. It resolves true when done.
 * @param {BuildingPage} page
 * @param {Alarm} a
 * @param {"ack" | "resolve"} verb
 * @returns {Promise<boolean>}
 */
export function handleAlarm(page, a, verb) {
  const { i18n, client, notices } = page.ctx;
  const comment = h("textarea", { testid: "alarm-comment", i18nPlaceholder: `bld.alarm.${verb}_ph`, attrs: { rows: 3, maxlength: 500, required: true } });
  const problem = new ErrorBox("alarm-dialog-error");
  const submit = h("button", { class: "btn btn-primary", testid: "alarm-dialog-submit", i18n: `bld.alarm.${verb}`, attrs: { type: "submit" } });
  const cancel = h("button", { class: "btn btn-plain", i18n: "common.cancel", attrs: { type: "button" } });
  const form = h(
    "form",
    { attrs: { novalidate: true } },
    h("h2", { class: "dialog-title", text: i18n.t(`bld.alarm.${verb}_title`, { kind: alarmTitle(page, a) }) }),
    h(
      "div",
      { class: "alarm-summary" },
      h("span", { class: `badge sev-${a.severity}`, text: i18n.t(`bld.sev.${a.severity}`) }),
      h("span", { class: "strong", text: alarmWhere(page, a) }),
      h("span", { class: "muted small", text: formatTime(a.raised_at) }),
    ),
    a.message ? h("p", { class: "muted small", text: a.message }) : null,
    a.ack_comment ? h("p", { class: "small", text: i18n.t("bld.alarm.acked_by", { user: a.acked_by ?? "", comment: a.ack_comment }) }) : null,
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "bld.alarm.comment" }), comment),
    problem.el,
    h("div", { class: "dialog-actions" }, cancel, submit),
  );
  const cam = alarmCamera(a);
  const live = cam ? mountCameraView(page.ctx, feedOf(page)) : null;
  const dlg = h("dialog", { class: live ? "dialog dialog-wide alarm-dialog-live" : "dialog", testid: "alarm-dialog" }, live ? h("div", { class: "alarm-dialog-grid" }, form, live.el) : form);
  i18n.translate(dlg);
  document.body.append(dlg);
  let done = false;
  cancel.addEventListener("click", () => dlg.close());
  comment.addEventListener("input", () => problem.hide());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.hide();
    const text = comment.value.trim();
    if (!text) {
      problem.show(() => i18n.t("bld.alarm.need_comment"));
      comment.focus();
      return;
    }
    submit.disabled = true;
    try {
      await client.request(verb === "ack" ? REQUEST_TYPES.BUILDING_ALARMS_ACK : REQUEST_TYPES.BUILDING_ALARMS_RESOLVE, { alarm_id: a.id, comment: text });
      done = true;
      dlg.close();
      notices.show(() => i18n.t(`bld.alarm.${verb}_done`, { kind: alarmTitle(page, a) }), "ok");
    } catch (err) {
      problem.show(() => page.explain(err));
    } finally {
      submit.disabled = false;
    }
  });
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      live?.destroy();
      dlg.remove();
      resolve(done);
    });
    dlg.showModal();
    live?.show(cam);
    comment.focus();
  });
}

/**
 * showHistory lists every change of an alarm in a dialog.
 * @param {BuildingPage} page
 * @param {Alarm} a
 */
async function showHistory(page, a) {
  const { i18n, client } = page.ctx;
  const list = h("ol", { class: "alarm-history", testid: "alarm-history" });
  const problem = new ErrorBox();
  const ok = h("button", { class: "btn btn-primary", i18n: "common.close", attrs: { type: "submit", value: "ok" } });
  const dlg = h(
    "dialog",
    { class: "dialog dialog-wide", testid: "alarm-history-dialog" },
    h(
      "form",
      { attrs: { method: "dialog" } },
      h("h2", { class: "dialog-title", text: i18n.t("bld.alarm.history_title", { kind: alarmTitle(page, a), where: alarmWhere(page, a) }) }),
      list,
      problem.el,
      h("div", { class: "dialog-actions" }, ok),
    ),
  );
  i18n.translate(dlg);
  document.body.append(dlg);
  dlg.addEventListener("close", () => dlg.remove());
  dlg.showModal();
  try {
    const res = await client.request(REQUEST_TYPES.BUILDING_ALARMS_HISTORY, { alarm_id: a.id });
    /** @type {{at: string, action: string, state: string, user?: string, comment?: string}[]} */
    const hist = res?.history ?? [];
    list.replaceChildren(
      ...hist.map((x) =>
        h(
          "li",
          { data: { action: x.action } },
          h("span", { class: "mono small", text: formatTime(x.at) }),
          h("span", { class: "strong", text: i18n.has(`bld.alarm.action.${x.action}`) ? i18n.t(`bld.alarm.action.${x.action}`) : x.action }),
          h("span", { class: "muted", text: x.user || i18n.t("bld.alarm.by_system") }),
          x.comment ? h("span", { class: "alarm-comment", text: `“${x.comment}”` }) : null,
        ),
      ),
    );
  } catch (err) {
    problem.show(() => page.explain(err));
  }
}

/**
 * mountAlarmBar builds the bar that flashes above every tab while an
 * alarm is new: how many, the newest, and a quick acknowledge.
 * @param {BuildingPage} page
 * @returns {{el: HTMLElement, relocalize: () => void, destroy: () => void}}
 */
export function mountAlarmBar(page) {
  const { i18n } = page.ctx;
  const text = h("span", { class: "alarm-bar-text", testid: "alarm-bar-text" });
  const ack = page.staff ? h("button", { class: "btn btn-small", testid: "alarm-bar-ack", i18n: "bld.alarm.ack", attrs: { type: "button" } }) : null;
  const show = h("a", { class: "btn btn-small", i18n: "bld.alarm.show_all", attrs: { href: "#/building/alarms" } });
  const el = h("div", { class: "alarm-bar", testid: "alarm-bar", attrs: { hidden: true, role: "alert" } }, h("span", { class: "alarm-bar-icon", text: "!", attrs: { "aria-hidden": "true" } }), text, h("span", { class: "alarm-bar-actions" }, ack, show));
  /** @type {Alarm | null} */
  let newest = null;
  const render = (/** @type {string} */ _id = "", /** @type {any} */ info = undefined) => {
    const fresh = sortAlarms([...page.state.alarms.values()].filter((a) => a.state === "new"));
    fresh.sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at) || b.id - a.id);
    newest = fresh[0] ?? null;
    el.hidden = !newest;
    if (!newest) return;
    el.dataset.alarm = String(newest.id);
    el.dataset.severity = newest.severity;
    const where = alarmWhere(page, newest);
    text.textContent =
      fresh.length > 1
        ? i18n.t("bld.alarm.bar_many", { n: fresh.length, kind: alarmTitle(page, newest), where, time: formatTime(newest.raised_at) })
        : i18n.t("bld.alarm.bar_one", { kind: alarmTitle(page, newest), where, time: formatTime(newest.raised_at) });
    if (info?.sound) {
      // Restart the flash for each new occurrence.
      el.classList.remove("alarm-flash");
      void el.offsetWidth;
      el.classList.add("alarm-flash");
    }
  };
  ack?.addEventListener("click", () => {
    if (newest) handleAlarm(page, newest, "ack");
  });
  el.classList.add("alarm-flash");
  i18n.translate(el);
  const offs = [page.on("alarms", render), page.on("doors", () => render()), page.on("places", () => render()), feedOf(page).on(() => render())];
  render();
  return {
    el,
    relocalize: () => render(),
    destroy() {
      for (const off of offs) off();
    },
  };
}

/**
 * mountAlarmsPane builds the Alarms tab.
 * @param {BuildingPage} page
 * @returns {{el: HTMLElement, activate: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountAlarmsPane(page) {
  const { i18n, client } = page.ctx;
  /** @type {Set<number>} alarms that flash once: new or repeated since the last render. */
  const fresh = new Set();
  /** @type {Alarm[]} */
  let resolved = [];
  let resolvedLoaded = false;
  let active = false;

  const count = h("span", { class: "muted small", testid: "alarms-count" });
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", testid: "alarms-empty", i18n: "bld.alarm.none", attrs: { hidden: true } });
  const cols = ["bld.alarm.col.severity", "bld.alarm.col.kind", "bld.alarm.col.where", "bld.alarm.col.raised", "bld.alarm.col.count", "bld.alarm.col.state"];
  if (page.staff) cols.push("bld.col.actions");
  const rbody = h("tbody");
  const rempty = h("p", { class: "muted empty-line", testid: "resolved-empty", i18n: "bld.alarm.none_resolved", attrs: { hidden: true } });
  const rerror = new ErrorBox("resolved-error");
  const rcols = ["bld.alarm.col.severity", "bld.alarm.col.kind", "bld.alarm.col.where", "bld.alarm.col.raised", "bld.alarm.col.resolved", "bld.alarm.col.comment", ""];

  // The live view of the selected alarm's camera, beside the queue.
  const feed = feedOf(page);
  const live = mountCameraView(page.ctx, feed);
  /** @type {number} the alarm whose camera shows; 0 picks the first in the queue with one. */
  let picked = 0;
  const liveTitle = h("div", { class: "strong", testid: "alarm-live-kind" });
  const liveWhere = h("div", { class: "small", testid: "alarm-live-where" });
  const liveMsg = h("div", { class: "muted small alarm-comment" });
  const liveCard = h(
    "section",
    { class: "card alarm-live", testid: "alarm-live", attrs: { hidden: true } },
    h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "bld.alarm.live_title" })),
    h("div", { class: "alarm-live-details" }, liveTitle, liveWhere, liveMsg),
    live.el,
  );

  /** @param {string[]} keys */
  const head = (keys) => h("thead", {}, h("tr", {}, ...keys.map((k) => h("th", { i18n: k || undefined }))));
  const split = h(
    "div",
    { class: "alarms-split" },
    h(
      "div",
      { class: "alarms-main" },
      h(
        "section",
        { class: "card card-fill" },
        h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "bld.alarm.open_title" }), " ", count)),
        h("div", { class: "table-scroll" }, h("table", { class: "table table-dense", testid: "alarms-table" }, head(cols), tbody), empty),
      ),
      h(
        "section",
        { class: "card card-resolved" },
        h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "bld.alarm.resolved_title" })),
        rerror.el,
        h("div", { class: "table-scroll" }, h("table", { class: "table table-dense", testid: "resolved-table" }, head(rcols), rbody), rempty),
      ),
    ),
    liveCard,
  );
  const el = h("div", { class: "pane", testid: "building-alarms-pane" }, split);

  /**
   * renderLive shows the picked alarm's camera (or the first alarm's in
   * the queue that has one) while the tab shows.
   * @param {Alarm[]} list the open alarms in queue order.
   */
  const renderLive = (list) => {
    const withCam = list.filter((a) => alarmCamera(a));
    const a = withCam.find((x) => x.id === picked) ?? withCam[0] ?? null;
    liveCard.hidden = !a;
    split.classList.toggle("alarms-split-live", Boolean(a));
    for (const tr of tbody.querySelectorAll("tr")) tr.classList.toggle("row-selected", Boolean(a) && tr.dataset.alarmId === String(a?.id));
    if (!a) {
      live.stop();
      return;
    }
    liveCard.dataset.alarmId = String(a.id);
    liveTitle.textContent = alarmTitle(page, a);
    liveWhere.textContent = `${alarmWhere(page, a)} · ${formatTime(a.raised_at)}`;
    liveMsg.textContent = a.message;
    if (el.hidden) live.stop();
    else live.show(alarmCamera(a));
  };

  /**
   * @param {Alarm} a
   */
  const row = (a) => {
    const stateText = a.state === "acknowledged" ? i18n.t("bld.alarm.state.acknowledged_by", { user: a.acked_by ?? "" }) : i18n.t(`bld.alarm.state.${a.state}`);
    const cam = alarmCamera(a);
    return h(
      "tr",
      {
        class: `${a.state === "new" ? "alarm-new" : ""} ${fresh.has(a.id) ? "alarm-flash" : ""} ${cam ? "alarm-has-camera" : ""}`.trim(),
        data: { alarmId: String(a.id), kind: a.kind, state: a.state, severity: a.severity, camera: cam },
        on: {
          click: (ev) => {
            if (!cam || (ev.target instanceof Element && ev.target.closest("button, a"))) return;
            picked = a.id;
            render();
          },
        },
      },
      h("td", {}, h("span", { class: `badge sev-${a.severity}`, text: i18n.t(`bld.sev.${a.severity}`) })),
      h("td", {}, h("div", { class: "strong", text: alarmTitle(page, a) }), a.message ? h("div", { class: "muted small", text: a.message }) : null),
      h(
        "td",
        {},
        a.door ? h("a", { text: alarmWhere(page, a), attrs: { href: "#/building" }, on: { click: () => page.select(a.door ?? "") } }) : h("span", { text: alarmWhere(page, a) }),
        a.camera && a.door ? h("div", { class: "muted small", testid: "alarm-camera-field", text: i18n.t("bld.alarm.camera", { name: feed.name(a.camera) }) }) : null,
        cam && !a.camera ? h("div", { class: "muted small alarm-cam-tag", text: i18n.t("bld.alarm.has_camera", { name: feed.name(cam) }) }) : null,
      ),
      h("td", { class: "nowrap", text: formatTime(a.raised_at) }),
      h("td", { class: "mono", text: String(a.count || 1) }),
      h("td", {}, h("div", { testid: "alarm-state", text: stateText }), a.ack_comment ? h("div", { class: "muted small alarm-comment", text: `“${a.ack_comment}”` }) : null),
      page.staff
        ? h(
            "td",
            { class: "col-actions" },
            h(
              "div",
              { class: "row-actions" },
              a.state === "new" ? h("button", { class: "btn btn-small btn-primary", data: { action: "ack" }, text: i18n.t("bld.alarm.ack"), attrs: { type: "button" }, on: { click: () => handleAlarm(page, a, "ack") } }) : null,
              h("button", { class: "btn btn-small", data: { action: "resolve" }, text: i18n.t("bld.alarm.resolve"), attrs: { type: "button" }, on: { click: () => handleAlarm(page, a, "resolve") } }),
              h("button", { class: "btn btn-small btn-plain", data: { action: "history" }, text: i18n.t("bld.alarm.history"), attrs: { type: "button" }, on: { click: () => showHistory(page, a) } }),
            ),
          )
        : null,
    );
  };

  /**
   * @param {Alarm} a
   */
  const resolvedRow = (a) =>
    h(
      "tr",
      { data: { alarmId: String(a.id), kind: a.kind } },
      h("td", {}, h("span", { class: `badge sev-${a.severity}`, text: i18n.t(`bld.sev.${a.severity}`) })),
      h("td", { text: alarmTitle(page, a) }),
      h("td", { text: alarmWhere(page, a) }),
      h("td", { class: "nowrap", text: formatTime(a.raised_at) }),
      h("td", { class: "nowrap", text: `${formatTime(a.resolved_at)} · ${a.resolved_by || i18n.t("bld.alarm.by_itself")}` }),
      h("td", { class: "small", text: a.resolve_comment || a.ack_comment || "—" }),
      h("td", { class: "col-actions" }, h("button", { class: "btn btn-small btn-plain", data: { action: "history" }, text: i18n.t("bld.alarm.history"), attrs: { type: "button" }, on: { click: () => showHistory(page, a) } })),
    );

  /** the camera names the queue shows, as last drawn */
  let shownNames = "";
  const cameraNames = () =>
    [...page.state.alarms.values()]
      .map((a) => alarmCamera(a))
      .filter(Boolean)
      .map((id) => feed.name(id))
      .join("\u0000");

  const render = () => {
    shownNames = cameraNames();
    const list = sortAlarms(page.state.alarms.values());
    tbody.replaceChildren(...list.map(row));
    fresh.clear();
    renderLive(list);
    empty.hidden = list.length > 0;
    const n = list.filter((a) => a.state === "new").length;
    count.textContent = i18n.t("bld.alarm.count", { n: list.length, fresh: n });
    rbody.replaceChildren(...resolved.map(resolvedRow));
    rempty.hidden = !resolvedLoaded || resolved.length > 0;
  };

  let loadSeq = 0;
  const loadResolved = async () => {
    const seq = ++loadSeq;
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_ALARMS_LIST, { state: "resolved", limit: RESOLVED_LIMIT });
      if (seq !== loadSeq) return;
      resolved = res?.alarms ?? [];
      resolvedLoaded = true;
      rerror.hide();
      render();
    } catch (err) {
      if (seq !== loadSeq) return;
      rerror.show(() => page.explain(err));
    }
  };

  const offs = [
    page.on("alarms", (id, info) => {
      if (info?.sound && id !== "*") fresh.add(Number(id));
      if (info?.kind === "building.alarm_resolved" && active) loadResolved();
      render();
    }),
    page.on("places", render),
    feed.on(() => {
      // Health figures come every 5 s: redraw the queue only when a name it shows changed.
      const names = cameraNames();
      if (names !== shownNames) render();
      else renderLive(sortAlarms(page.state.alarms.values()));
    }),
  ];
  // The live view runs only while the tab shows.
  const shown = new MutationObserver(() => render());
  shown.observe(el, { attributes: true, attributeFilter: ["hidden"] });
  i18n.translate(el);
  render();

  return {
    el,
    activate() {
      active = true;
      loadResolved();
    },
    relocalize() {
      render();
      rerror.relocalize();
      live.relocalize();
    },
    destroy() {
      for (const off of offs) off();
      shown.disconnect();
      live.destroy();
      feed.close();
      feeds.delete(page);
    },
  };
}
