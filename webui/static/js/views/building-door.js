// @ts-check
// The Building page's door detail, beside the plan and the door list:
// the selected door's state (lock, contact, tamper, controller, mode,
// lockdown), its last command and how it went, the commands (unlock for
// N seconds, unlock until a time, lock) for admins and facilities staff,
// its recent access events (live), and its linked cameras live: the first
// one, with a switch among them when there are several. The live view
// runs only while the panel shows.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, formatTime, h } from "../ui.js";
import { doorLook, localToRFC3339, lockdownFor, toLocalInput } from "./building-model.js";
import { openCameraFeed, planCamera, retag } from "./building-plan-cameras.js";
import { mountCameraView } from "./cameras-inline.js";

/** @typedef {import("./building.js").BuildingPage} BuildingPage */
/** @typedef {import("./building-model.js").Door} Door */
/** @typedef {import("./building-model.js").AccessEvent} AccessEvent */

/** How many recent access events the detail shows. */
export const RECENT_EVENTS = 8;

/**
 * doorCamera is the linked camera the detail shows: the one picked if the
 * door still links it, else its first, else "".
 * @param {string[] | undefined} cameras the door's, nearest first.
 * @param {string} picked
 * @returns {string}
 */
export function doorCamera(cameras, picked) {
  const cams = cameras ?? [];
  return picked && cams.includes(picked) ? picked : (cams[0] ?? "");
}

/**
 * mountDoorDetail builds the door detail panel.
 * @param {BuildingPage} page
 * @returns {{el: HTMLElement, relocalize: () => void, destroy: () => void}}
 */
export function mountDoorDetail(page) {
  const { client, i18n, notices } = page.ctx;
  /** @type {AccessEvent[]} */
  let events = [];
  let eventsFor = "";
  let eventsSeq = 0;
  /** the door whose command inputs show; they keep their values while it stays selected. */
  let inputsFor = "";

  const error = new ErrorBox("door-error");
  const title = h("h2", { class: "card-title", testid: "door-title" });
  const sub = h("p", { class: "muted small", testid: "door-where" });
  const look = h("span", { class: "badge look-badge", testid: "door-state" });
  const close = h("button", { class: "btn btn-small btn-plain", i18nAriaLabel: "common.close", text: "×", attrs: { type: "button" }, on: { click: () => page.select("") } });
  const facts = h("dl", { class: "door-facts", testid: "door-facts" });
  const lastCmd = h("p", { class: "small door-last-command", testid: "door-last-command" });

  const seconds = h("input", { testid: "door-unlock-seconds", attrs: { type: "number", min: 1, max: 300, step: 1, value: "5", inputmode: "numeric" } });
  const unlockBtn = h("button", { class: "btn btn-primary btn-small", testid: "door-unlock", attrs: { type: "button" } });
  const until = h("input", { testid: "door-unlock-until-time", attrs: { type: "datetime-local" } });
  const untilBtn = h("button", { class: "btn btn-small", testid: "door-unlock-until", i18n: "bld.door.unlock_until", attrs: { type: "button" } });
  const lockBtn = h("button", { class: "btn btn-small", testid: "door-lock", i18n: "bld.door.lock", attrs: { type: "button" } });
  const commands = page.staff
    ? h(
        "div",
        { class: "door-commands", testid: "door-commands" },
        h("div", { class: "door-cmd-row" }, h("label", { class: "door-seconds" }, seconds, h("span", { class: "muted small", i18n: "bld.door.seconds" })), unlockBtn, lockBtn),
        h("div", { class: "door-cmd-row" }, until, untilBtn),
      )
    : h("p", { class: "muted small", i18n: "bld.door.no_commands" });

  const feed = openCameraFeed(page);
  const live = mountCameraView(page.ctx, feed.feed);
  retag(live.el, "door-live");
  const camPick = h("div", { class: "seg-group door-camera-pick", testid: "door-camera-pick", i18nAriaLabel: "bld.door.camera_pick", attrs: { role: "group", hidden: true } });
  const camNone = h("p", { class: "muted small door-camera-none", testid: "door-camera-none", i18n: "bld.door.camera_none", attrs: { hidden: true } });
  const camGone = h("div", { class: "door-camera-gone", testid: "door-camera-removed", attrs: { hidden: true } });
  const camera = h("div", { class: "door-camera", testid: "door-camera" }, camPick, live.el, camGone, camNone);
  /** the camera picked among the door's, "" for its first; camFor is the door it was picked at. */
  let picked = "";
  let camFor = "";
  /** the panel is on screen (not on a hidden tab). */
  let shown = false;
  const eventsList = h("ul", { class: "door-events", testid: "door-events" });
  const eventsEmpty = h("p", { class: "muted small", i18n: "bld.door.no_events", attrs: { hidden: true } });
  const alarmsLine = h("p", { class: "small", attrs: { hidden: true } });

  const body = h(
    "div",
    { class: "door-body" },
    h("div", { class: "door-head" }, h("div", { class: "door-head-text" }, title, sub), look, close),
    alarmsLine,
    // The camera and the commands first: who is at the door, and open it.
    camera,
    commands,
    lastCmd,
    error.el,
    facts,
    h("h3", { class: "door-section", i18n: "bld.door.recent" }),
    eventsList,
    eventsEmpty,
  );
  const hint = h("p", { class: "muted door-hint", testid: "door-hint", i18n: "bld.door.pick" });
  const el = h("section", { class: "card door-detail", testid: "door-detail" }, hint, body);

  /**
   * @param {string} key
   * @param {Node | string} value
   * @param {string} [testid]
   */
  const fact = (key, value, testid) => h("div", { class: "door-fact" }, h("dt", { i18n: key, text: i18n.t(key) }), h("dd", { testid }, value));

  const render = () => {
    const d = page.state.doors.get(page.selected);
    hint.hidden = !!d;
    body.hidden = !d;
    el.dataset.door = d?.id ?? "";
    if (!d) {
      renderCamera(undefined);
      return;
    }
    if (inputsFor !== d.id) {
      inputsFor = d.id;
      error.hide();
      seconds.value = String(d.unlock_seconds || 5); // the door's own unlock time
      until.value = toLocalInput(new Date(Date.now() + 60 * 60 * 1000));
    }
    const lk = doorLook(d);
    el.dataset.look = lk;
    title.textContent = d.name;
    sub.textContent = `${d.id} · ${page.floorLabel(d.floor)}`;
    look.className = `badge look-badge look-${lk}`;
    look.textContent = i18n.t(`bld.look.${lk}`);
    const ld = lockdownFor(page.state.lockdowns, d);
    const ctrl = page.state.controllers.get(d.controller);
    facts.replaceChildren(
      fact("bld.col.lock", d.lock ? i18n.t(`bld.lock.${d.lock}`) : "—", "door-lock-state"),
      fact("bld.col.contact", d.contact ? i18n.t(`bld.contact.${d.contact}`) : "—", "door-contact-state"),
      fact("bld.door.tamper", i18n.t(d.tamper ? "bld.door.tamper_on" : "bld.door.tamper_off")),
      fact(
        "bld.col.controller",
        h("span", {}, h("span", { class: "mono small", text: d.controller }), " ", h("span", { class: `tag ${d.online ? "tag-ok" : "tag-warn"}`, text: i18n.t(d.online ? "bld.online" : "bld.offline") })),
        "door-controller",
      ),
      fact("bld.col.mode", ld || d.lockdown ? i18n.t("bld.lockdown.tag") : i18n.t(`bld.mode.${d.mode || "controlled"}`)),
      fact("bld.door.unlocked_until", d.unlocked_until ? formatTime(d.unlocked_until) : "—"),
    );
    const cmd = d.last_command;
    lastCmd.hidden = !cmd;
    if (cmd) {
      lastCmd.dataset.state = cmd.state;
      lastCmd.textContent = i18n.t(`bld.cmd.${cmd.state}_long`, { action: i18n.t(`bld.action.${cmd.action}`), by: cmd.by, time: formatTime(cmd.at), error: cmd.error ?? "" });
    }
    const n = Number(seconds.value) || 5;
    unlockBtn.textContent = i18n.t("bld.door.unlock_n", { n });
    const blocked = !d.online || d.lockdown || !!ld;
    unlockBtn.disabled = blocked;
    untilBtn.disabled = blocked;
    lockBtn.disabled = !d.online;
    unlockBtn.title = blocked ? i18n.t(d.online ? "bld.door.blocked_lockdown" : "bld.door.blocked_offline") : "";
    renderCamera(d);
    const open = [...page.state.alarms.values()].filter((a) => a.door === d.id);
    alarmsLine.hidden = open.length === 0;
    alarmsLine.replaceChildren(
      h("span", { class: "tag tag-danger", text: i18n.t("bld.door.alarms", { n: open.length }) }),
      " ",
      h("a", { text: i18n.t("bld.door.show_alarms"), attrs: { href: "#/building/alarms" } }),
    );
    if (eventsFor !== d.id) loadEvents(d.id);
    renderEvents();
  };

  /**
   * renderCamera shows the door's picked camera live, with a button per
   * camera when it has several; no door, or a panel off screen, stops it.
   * @param {Door | undefined} d
   */
  const renderCamera = (d) => {
    if ((d?.id ?? "") !== camFor) {
      camFor = d?.id ?? "";
      picked = "";
    }
    const cams = d?.cameras ?? [];
    const id = doorCamera(cams, picked);
    const cam = planCamera(feed.feed.state, feed.loaded(), id);
    camera.dataset.camera = id;
    camNone.hidden = !d || cams.length > 0;
    // A camera deleted while the door still links it: say so, watch nothing.
    camGone.hidden = !d || !id || !cam.removed;
    camGone.textContent = i18n.t("bld.door.camera_removed", { id });
    camPick.hidden = cams.length < 2;
    camPick.replaceChildren(
      ...(cams.length < 2
        ? []
        : cams.map((c) =>
            h("button", {
              class: "seg",
              data: { camera: c },
              text: planCamera(feed.feed.state, feed.loaded(), c).removed ? i18n.t("bld.plan.camera_removed", { id: c }) : feed.feed.name(c),
              attrs: { type: "button", "aria-pressed": String(c === id) },
              on: {
                click: () => {
                  picked = c;
                  renderCamera(page.state.doors.get(page.selected));
                  /** @type {HTMLElement | null} */ (camPick.querySelector(`[data-camera="${CSS.escape(c)}"]`))?.focus();
                },
              },
            }),
          )),
    );
    live.show(d && shown && !cam.removed ? id : "");
  };

  const renderEvents = () => {
    eventsList.replaceChildren(
      ...events.map((e) =>
        h(
          "li",
          { class: e.granted ? "ev-granted" : "ev-denied", data: { eventId: String(e.id) } },
          h("span", { class: "mono small nowrap", text: formatTime(e.at).slice(11) || "—", attrs: { title: formatTime(e.at) } }),
          h("span", { class: "ev-who", text: e.cardholder_name || i18n.t("bld.access.unknown_card", { card: e.card }) }),
          h("span", { class: "muted small", text: i18n.t(`bld.dir.${e.direction === "out" ? "out" : "in"}`) }),
          h("span", { class: `tag ${e.granted ? "tag-ok" : "tag-warn"}`, text: i18n.t(`bld.reason.${e.reason}`) }),
        ),
      ),
    );
    eventsEmpty.hidden = events.length > 0;
  };

  /** @param {string} id */
  const loadEvents = async (id) => {
    eventsFor = id;
    events = [];
    const seq = ++eventsSeq;
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_ACCESS_LIST, { door: id, limit: RECENT_EVENTS });
      if (seq !== eventsSeq) return;
      const got = /** @type {AccessEvent[]} */ (res?.events ?? []);
      // Live events may have come while the list loaded.
      const seen = new Set(events.map((e) => e.id));
      events = [...events, ...got.filter((e) => !seen.has(e.id))].sort((a, b) => b.id - a.id).slice(0, RECENT_EVENTS);
      renderEvents();
    } catch {
      // The events are a convenience here; the Access events tab explains errors.
    }
  };

  /**
   * run sends a door command and explains a refusal in the panel. The
   * door's new state arrives on the topic.
   * @param {string} type
   * @param {Record<string, unknown>} params
   * @param {string} doneKey
   */
  const run = async (type, params, doneKey) => {
    const d = page.state.doors.get(page.selected);
    if (!d) return;
    error.hide();
    for (const b of [unlockBtn, untilBtn, lockBtn]) b.disabled = true;
    try {
      await client.request(type, { door: d.id, ...params });
      notices.show(() => i18n.t(doneKey, { door: d.name }), "ok");
    } catch (err) {
      error.show(() => page.explain(err));
    } finally {
      render();
    }
  };

  seconds.addEventListener("input", () => {
    unlockBtn.textContent = i18n.t("bld.door.unlock_n", { n: Number(seconds.value) || 5 });
  });
  unlockBtn.addEventListener("click", () => {
    const n = Number(seconds.value);
    if (!Number.isInteger(n) || n < 1 || n > 300) {
      error.show(() => i18n.t("bld.door.bad_seconds"));
      return;
    }
    run(REQUEST_TYPES.BUILDING_DOORS_UNLOCK, { seconds: n }, "bld.door.unlock_sent");
  });
  untilBtn.addEventListener("click", () => {
    const t = localToRFC3339(until.value);
    if (!t || Date.parse(t) <= Date.now()) {
      error.show(() => i18n.t("bld.door.bad_until"));
      return;
    }
    run(REQUEST_TYPES.BUILDING_DOORS_UNLOCK_UNTIL, { until: t }, "bld.door.unlock_sent");
  });
  lockBtn.addEventListener("click", () => run(REQUEST_TYPES.BUILDING_DOORS_LOCK, {}, "bld.door.lock_sent"));

  const offs = [
    page.on("select", render),
    page.on("doors", (id) => {
      if (id === "*" || id === page.selected) render();
    }),
    page.on("controllers", render),
    page.on("alarms", render),
    page.on("places", render),
    feed.feed.on((id) => {
      // New names for the camera buttons, or a linked camera removed.
      const d = page.state.doors.get(page.selected);
      if (d && (id === "*" || d.cameras?.includes(id))) renderCamera(d);
    }),
    page.on("access", (door, e) => {
      if (door !== eventsFor || !e || events.some((x) => x.id === e.id)) return;
      events = [e, ...events].slice(0, RECENT_EVENTS);
      renderEvents();
    }),
  ];
  // The live view runs only while the panel shows: not on the Alarms,
  // Access or Setup tabs, where it has no size.
  const seen = new ResizeObserver((entries) => {
    const r = entries[entries.length - 1]?.contentRect;
    const now = !!r && r.width > 0 && r.height > 0;
    if (now === shown) return;
    shown = now;
    renderCamera(page.state.doors.get(page.selected));
  });
  seen.observe(el);
  i18n.translate(el);
  render();

  return {
    el,
    relocalize() {
      i18n.translate(el);
      render();
      live.relocalize();
      error.relocalize();
    },
    destroy() {
      for (const off of offs) off();
      seen.disconnect();
      live.destroy();
      feed.release();
    },
  };
}
