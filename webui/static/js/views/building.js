// @ts-check
// The Building page, for admins and facilities staff: the doors of the
// building live from the "building.doors", "building.alarms",
// "building.controllers" and "building.access" topics.
//
//   #/building (or /plan)  the floor plan, doors coloured by state;
//                          admins upload plans and drag doors onto them
//                          (building-plan.js)
//   #/building/doors       every door in a list
//   #/building/alarms      the alarm queue: acknowledge and resolve with a
//                          comment, history (building-alarms.js)
//   #/building/access      the access event search with CSV export
//                          (building-access.js)
//   #/building/setup       the admin editors (building-setup.js)
//
// A selected door's detail (state, commands, recent events, its camera)
// shows beside the plan and the list (building-door.js). New alarms
// flash in a bar above every tab and beep (building-sound.js). The
// lockdown button asks for a scope, a reason and confirmation.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { ErrorBox, confirmDialog, errorText, formatTime, h } from "../ui.js";
import { mountAccessSearch } from "./building-access.js";
import { mountAlarmBar, mountAlarmsPane } from "./building-alarms.js";
import { mountDoorDetail } from "./building-door.js";
import {
  applyAlarmEvent,
  applyControllerEvent,
  applyDoorEvent,
  applyFloorEvent,
  applyOverview,
  byName,
  doorLook,
  emptyState,
  lockdownFor,
} from "./building-model.js";
import { mountFloorPlan } from "./building-plan.js";
import { mountSetup } from "./building-setup.js";
import { AlarmSound } from "./building-sound.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */
/** @typedef {import("./building-model.js").BuildingState} BuildingState */
/** @typedef {import("./building-model.js").Door} Door */
/** @typedef {import("./building-model.js").Lockdown} Lockdown */
/** @typedef {import("./building-model.js").Scope} Scope */
/** @typedef {import("./building-model.js").AccessEvent} AccessEvent */

/**
 * @typedef {"doors" | "alarms" | "controllers" | "places" | "access" | "select" | "floor"} Change
 */

/**
 * @typedef {object} BuildingPage what the parts of the page share.
 * @property {AppContext} ctx
 * @property {BuildingState} state
 * @property {boolean} admin
 * @property {boolean} staff the role may give door commands and handle alarms.
 * @property {string} selected the selected door's id, or "".
 * @property {(id: string) => void} select selects a door ("" for none).
 * @property {(change: Change, fn: (id: string, data?: any) => void) => () => void} on listens for a change.
 * @property {() => Promise<void>} reload loads building.overview again.
 * @property {(name: string) => void} showTab
 * @property {(id: string) => string} floorLabel "Floor 2 · Main building".
 * @property {(id: string) => string} doorName
 * @property {(d: Door) => string} lookText the door's state in words.
 * @property {(err: unknown) => string} explain an error in words.
 * @property {AlarmSound} sound
 */

/** The tabs, in order; setup is only for admins. */
export const TABS = Object.freeze(["plan", "doors", "alarms", "access", "setup"]);

/**
 * buildingTab is the tab a location hash shows ("#/building/alarms" →
 * "alarms"); the plan when the hash names none or one the role lacks.
 * @param {string} hash
 * @param {boolean} admin
 * @returns {string}
 */
export function buildingTab(hash, admin) {
  const m = /^#\/building\/([a-z]+)/.exec(hash);
  const t = m ? m[1] : "plan";
  if (!TABS.includes(t) || (t === "setup" && !admin)) return "plan";
  return t;
}

/**
 * mountBuilding builds the Building page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountBuilding(ctx) {
  const { client, i18n, notices, session } = ctx;
  const admin = session.role === "admin";
  const staff = admin || session.role === "facilities";
  const state = emptyState();
  /** @type {Map<Change, Set<(id: string, data?: any) => void>>} */
  const listeners = new Map();
  /**
   * @param {Change} change
   * @param {string} id
   * @param {any} [data]
   */
  const emit = (change, id, data) => {
    for (const fn of listeners.get(change) ?? []) fn(id, data);
  };
  const sound = new AlarmSound();

  /** @type {BuildingPage} */
  const page = {
    ctx,
    state,
    admin,
    staff,
    selected: "",
    sound,
    select(id) {
      page.selected = id;
      emit("select", id);
    },
    on(change, fn) {
      let set = listeners.get(change);
      if (!set) listeners.set(change, (set = new Set()));
      set.add(fn);
      return () => set.delete(fn);
    },
    reload: () => loadOverview(),
    showTab(name) {
      location.hash = name === "plan" ? "#/building" : `#/building/${name}`;
    },
    floorLabel(id) {
      const f = state.floors.find((x) => x.id === id);
      if (!f) return id || "—";
      const b = state.buildings.find((x) => x.id === f.building);
      return b ? `${f.name} · ${b.name}` : f.name;
    },
    doorName(id) {
      return state.doors.get(id)?.name ?? id;
    },
    lookText(d) {
      return i18n.t(`bld.look.${doorLook(d)}`);
    },
    explain(err) {
      const e = /** @type {{code?: string, message?: string}} */ (err ?? {});
      if (e.code === "unavailable" || e.code === "conflict" || e.code === "not_found") {
        return i18n.t(`bld.err.${e.code}`, { detail: e.message ?? "" });
      }
      return errorText(i18n, err);
    },
  };

  const error = new ErrorBox("building-error");

  // ---- tabs, lockdown and sound toggle ----
  /**
   * @param {string} name
   * @param {Node | null} [extra]
   */
  const tabLink = (name, extra = null) =>
    h("a", { class: "seg", testid: `building-tab-${name}`, data: { tab: name }, attrs: { href: name === "plan" ? "#/building" : `#/building/${name}` } }, h("span", { i18n: `bld.tab.${name}` }), extra);
  const alarmCount = h("span", { class: "seg-count seg-count-alarm", testid: "building-alarm-count", attrs: { hidden: true } });
  const tabs = h(
    "nav",
    { class: "seg-group", i18nAriaLabel: "bld.tabs" },
    ...TABS.filter((t) => t !== "setup" || admin).map((t) => tabLink(t, t === "alarms" ? alarmCount : null)),
  );
  const soundBtn = h("button", { class: "btn btn-small", testid: "building-sound", attrs: { type: "button", "aria-pressed": "true" } });
  const showSound = () => {
    soundBtn.textContent = i18n.t(sound.on ? "bld.sound.on" : "bld.sound.off");
    soundBtn.setAttribute("aria-pressed", String(sound.on));
    soundBtn.dataset.beeps = String(sound.count);
  };
  soundBtn.addEventListener("click", () => {
    sound.on = !sound.on;
    showSound();
  });
  const lockdownBtn = staff ? h("button", { class: "btn btn-small btn-danger", testid: "lockdown-start", i18n: "bld.lockdown.button", attrs: { type: "button" } }) : null;
  const toolbar = h("div", { class: "bld-toolbar" }, tabs, h("div", { class: "bld-toolbar-right" }, soundBtn, lockdownBtn));

  const lockdownBar = h("div", { class: "bld-lockdowns", testid: "lockdown-bar", attrs: { hidden: true, role: "status" } });
  const alarmBar = mountAlarmBar(page);

  // ---- panes ----
  const detail = mountDoorDetail(page);
  const plan = mountFloorPlan(page);
  const planSide = h("div", { class: "bld-side" });
  const planPane = h("div", { class: "pane bld-split", testid: "building-plan-pane" }, plan.el, planSide);

  const doorsBody = h("tbody");
  const doorsEmpty = h("p", { class: "muted empty", testid: "doors-empty", i18n: admin ? "bld.doors.empty_admin" : "bld.doors.empty", attrs: { hidden: true } });
  const doorsCount = h("span", { class: "muted small", testid: "doors-count" });
  const doorCols = ["bld.col.door", "bld.col.where", "bld.col.state", "bld.col.lock_contact", "bld.col.mode", "bld.col.controller", "bld.col.last_command"];
  const doorsCard = h(
    "section",
    { class: "card card-fill" },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "bld.doors.title" }), " ", doorsCount)),
    h(
      "div",
      { class: "table-scroll" },
      h("table", { class: "table table-dense table-click", testid: "doors-table" }, h("thead", {}, h("tr", {}, ...doorCols.map((k) => h("th", { i18n: k })))), doorsBody),
      doorsEmpty,
    ),
  );
  const doorsSide = h("div", { class: "bld-side" });
  const doorsPane = h("div", { class: "pane bld-split", testid: "building-doors-pane" }, doorsCard, doorsSide);

  const alarms = mountAlarmsPane(page);
  const access = mountAccessSearch(page);
  const setup = admin ? mountSetup(page) : null;

  /** @type {Record<string, HTMLElement>} */
  const panes = { plan: planPane, doors: doorsPane, alarms: alarms.el, access: access.el };
  if (setup) panes.setup = setup.el;

  const el = h("div", { class: "page page-building" }, toolbar, lockdownBar, alarmBar.el, error.el, ...Object.values(panes));

  let tab = "";
  const showTab = () => {
    const next = buildingTab(location.hash, admin);
    for (const [name, pane] of Object.entries(panes)) pane.hidden = name !== next;
    for (const a of tabs.querySelectorAll("a")) {
      if (a.dataset.tab === next) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    // One door detail, beside whichever list shows.
    if (next === "plan") planSide.replaceChildren(detail.el, plan.side);
    if (next === "doors") doorsSide.replaceChildren(detail.el);
    if (next !== tab) {
      tab = next;
      if (next === "access") access.activate();
      if (next === "alarms") alarms.activate();
      if (next === "setup") setup?.activate();
      if (next === "plan") plan.activate();
    }
  };
  window.addEventListener("hashchange", showTab);

  // ---- door list ----
  const doorRow = (/** @type {Door} */ d) => {
    const look = doorLook(d);
    const ld = lockdownFor(state.lockdowns, d);
    const ctrl = state.controllers.get(d.controller);
    const cmd = d.last_command;
    return h(
      "tr",
      {
        class: page.selected === d.id ? "row-selected" : "",
        data: { door: d.id, look },
        attrs: { tabindex: "0", "aria-selected": String(page.selected === d.id) },
        on: {
          click: () => page.select(d.id),
          keydown: (ev) => {
            if (/** @type {KeyboardEvent} */ (ev).key === "Enter") page.select(d.id);
          },
        },
      },
      h("td", {}, h("span", { class: "strong", text: d.name }), h("span", { class: "muted small mono id-tag", text: d.id })),
      h("td", { class: "nowrap", text: page.floorLabel(d.floor) }),
      h("td", {}, h("span", { class: `badge look-badge look-${look}`, testid: "door-look", text: i18n.t(`bld.look.${look}`) })),
      h("td", { class: "small", text: `${d.lock ? i18n.t(`bld.lock.${d.lock}`) : "—"} · ${d.contact ? i18n.t(`bld.contact.${d.contact}`) : "—"}` }),
      h(
        "td",
        { class: "nowrap" },
        h("span", { text: i18n.t(`bld.mode.${d.mode || "controlled"}`) }),
        d.lockdown || ld ? h("span", { class: "tag tag-danger", text: i18n.t("bld.lockdown.tag") }) : null,
      ),
      h("td", { class: "nowrap" }, h("span", { class: "mono small", text: d.controller }), " ", h("span", { class: `tag ${d.online ? "tag-ok" : "tag-warn"}`, text: i18n.t(d.online ? "bld.online" : "bld.offline"), attrs: { title: ctrl?.last_seen ? formatTime(ctrl.last_seen) : null } })),
      h("td", { class: "small" }, cmd ? i18n.t(`bld.cmd.${cmd.state}`, { action: i18n.t(`bld.action.${cmd.action}`), by: cmd.by }) : "—"),
    );
  };

  const renderDoors = () => {
    const list = [...state.doors.values()].sort(byName);
    doorsBody.replaceChildren(...list.map(doorRow));
    doorsEmpty.hidden = list.length > 0;
    const attention = list.filter((d) => ["alarm", "open", "offline", "fault"].includes(doorLook(d))).length;
    doorsCount.textContent = i18n.t("bld.doors.count", { n: list.length, attention });
  };

  // ---- lockdowns ----
  /** @param {Scope} sc */
  const scopeName = (sc) => {
    if (sc.kind === "building") return i18n.t("bld.scope.building", { name: state.buildings.find((b) => b.id === sc.id)?.name ?? sc.id });
    return i18n.t("bld.scope.floor", { name: page.floorLabel(sc.id) });
  };
  const renderLockdowns = () => {
    lockdownBar.hidden = state.lockdowns.length === 0;
    lockdownBar.replaceChildren(
      ...state.lockdowns.map((l) =>
        h(
          "div",
          { class: "bld-lockdown", data: { scope: `${l.scope.kind}:${l.scope.id}` } },
          h("span", { class: "bld-lockdown-title", text: i18n.t("bld.lockdown.active", { scope: scopeName(l.scope) }) }),
          h("span", { class: "bld-lockdown-reason", text: l.reason }),
          h("span", { class: "muted small", text: i18n.t("bld.lockdown.by", { user: l.started_by, time: formatTime(l.started_at) }) }),
          staff
            ? h("button", {
                class: "btn btn-small",
                testid: "lockdown-release",
                text: i18n.t("bld.lockdown.release"),
                attrs: { type: "button" },
                on: { click: () => releaseLockdown(l) },
              })
            : null,
        ),
      ),
    );
  };

  /** @param {Lockdown} l */
  const releaseLockdown = async (l) => {
    const ok = await confirmDialog(i18n, i18n.t("bld.lockdown.confirm_release", { scope: scopeName(l.scope) }), { confirmKey: "bld.lockdown.release" });
    if (!ok) return;
    try {
      await client.request(REQUEST_TYPES.BUILDING_LOCKDOWN_RELEASE, { scope: l.scope });
      notices.show(() => i18n.t("bld.lockdown.released", { scope: scopeName(l.scope) }), "ok");
    } catch (err) {
      notices.show(() => page.explain(err), "error");
    }
  };

  lockdownBtn?.addEventListener("click", () => startLockdown());
  const startLockdown = async () => {
    const scope = h("select", { testid: "lockdown-scope" });
    for (const b of [...state.buildings].sort(byName)) {
      scope.append(h("option", { text: i18n.t("bld.scope.building", { name: b.name }), attrs: { value: `building:${b.id}` } }));
      for (const f of state.floors.filter((x) => x.building === b.id)) {
        scope.append(h("option", { text: `\u00a0\u00a0${i18n.t("bld.scope.floor", { name: f.name })}`, attrs: { value: `floor:${f.id}` } }));
      }
    }
    const reason = h("textarea", { testid: "lockdown-reason", i18nPlaceholder: "bld.lockdown.reason_ph", attrs: { rows: 3, maxlength: 500, required: true } });
    const problem = new ErrorBox("lockdown-error");
    const submit = h("button", { class: "btn btn-danger", testid: "lockdown-confirm", i18n: "bld.lockdown.confirm", attrs: { type: "submit" } });
    const cancel = h("button", { class: "btn btn-plain", i18n: "common.cancel", attrs: { type: "button" } });
    const form = h(
      "form",
      { attrs: { novalidate: true } },
      h("h2", { class: "dialog-title", i18n: "bld.lockdown.title" }),
      h("p", { class: "form-error", i18n: "bld.lockdown.warning" }),
      h("label", { class: "field" }, h("span", { class: "field-label", i18n: "bld.lockdown.scope" }), scope),
      h("label", { class: "field" }, h("span", { class: "field-label", i18n: "bld.lockdown.reason" }), reason),
      problem.el,
      h("div", { class: "dialog-actions" }, cancel, submit),
    );
    const dlg = h("dialog", { class: "dialog", testid: "lockdown-dialog" }, form);
    i18n.translate(dlg);
    document.body.append(dlg);
    cancel.addEventListener("click", () => dlg.close());
    reason.addEventListener("input", () => problem.hide());
    dlg.addEventListener("close", () => dlg.remove());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      problem.hide();
      if (!scope.value) return problem.show(() => i18n.t("bld.lockdown.no_scope"));
      if (!reason.value.trim()) return problem.show(() => i18n.t("bld.lockdown.need_reason"));
      const [kind, ...rest] = scope.value.split(":");
      const sc = /** @type {Scope} */ ({ kind, id: rest.join(":") });
      submit.disabled = true;
      try {
        await client.request(REQUEST_TYPES.BUILDING_LOCKDOWN_START, { scope: sc, reason: reason.value.trim() });
        dlg.close();
        notices.show(() => i18n.t("bld.lockdown.started", { scope: scopeName(sc) }), "ok");
      } catch (err) {
        problem.show(() => page.explain(err));
      } finally {
        submit.disabled = false;
      }
    });
    dlg.showModal();
    reason.focus();
  };

  // ---- loading and live updates ----
  let loadSeq = 0;
  const loadOverview = async () => {
    const seq = ++loadSeq;
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_OVERVIEW, {});
      if (seq !== loadSeq) return;
      applyOverview(state, res);
      error.hide();
      emit("places", "*");
      emit("doors", "*");
      emit("controllers", "*");
      emit("alarms", "*");
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => page.explain(err));
    }
  };

  let renderQueued = false;
  const renderLater = () => {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(() => {
      renderQueued = false;
      renderDoors();
      renderLockdowns();
      renderAlarmCount();
    });
  };
  const renderAlarmCount = () => {
    const open = [...state.alarms.values()];
    const fresh = open.filter((a) => a.state === "new").length;
    alarmCount.textContent = String(open.length);
    alarmCount.hidden = open.length === 0;
    alarmCount.classList.toggle("seg-count-new", fresh > 0);
  };
  page.on("doors", renderLater);
  page.on("controllers", renderLater);
  page.on("alarms", renderLater);
  page.on("places", renderLater);
  page.on("select", renderLater);

  const unsubscribe = client.subscribe(
    [TOPICS.BUILDING_DOORS, TOPICS.BUILDING_ALARMS, TOPICS.BUILDING_CONTROLLERS, TOPICS.BUILDING_ACCESS],
    (ev) => {
      switch (ev.topic) {
        case TOPICS.BUILDING_DOORS: {
          if (ev.kind === "snapshot") loadOverview(); // places may have changed while away
          if (ev.kind === "building.floor_changed") {
            // Another console uploaded a plan or placed a door: redraw.
            const f = applyFloorEvent(state, ev.data);
            if (f) emit("floor", f, ev.data);
            break;
          }
          const id = applyDoorEvent(state, ev);
          if (id) emit("doors", id);
          break;
        }
        case TOPICS.BUILDING_ALARMS: {
          const what = applyAlarmEvent(state.alarms, ev);
          if (what === "sound") {
            sound.beep();
            showSound();
          }
          if (what) emit("alarms", String(ev.data?.alarm?.id ?? "*"), { sound: what === "sound", kind: ev.kind });
          break;
        }
        case TOPICS.BUILDING_CONTROLLERS: {
          const id = applyControllerEvent(state.controllers, ev);
          if (id) emit("controllers", id);
          break;
        }
        case TOPICS.BUILDING_ACCESS:
          if (ev.kind !== "snapshot" && ev.data?.id) emit("access", String(ev.data.door ?? ""), /** @type {AccessEvent} */ (ev.data));
          else if (ev.kind !== "snapshot" && ev.data?.event?.id) emit("access", String(ev.data.event.door ?? ""), ev.data.event);
          break;
      }
    },
    (err) => error.show(() => page.explain(err)),
  );

  showSound();
  showTab();
  renderDoors();

  return {
    el,
    relocalize() {
      showSound();
      renderDoors();
      renderLockdowns();
      error.relocalize();
      alarmBar.relocalize();
      detail.relocalize();
      plan.relocalize();
      alarms.relocalize();
      access.relocalize();
      setup?.relocalize();
    },
    destroy() {
      window.removeEventListener("hashchange", showTab);
      unsubscribe();
      plan.destroy();
      detail.destroy();
      alarmBar.destroy();
      alarms.destroy();
      access.destroy();
      setup?.destroy();
      sound.destroy();
      listeners.clear();
    },
  };
}
