// @ts-check
// The Building page's state and its pure functions: the shapes the
// building.* requests and topics carry, how events change the doors,
// alarms and controllers the page holds, how a door's state is shown,
// and the filters of the access event search. Nothing here touches the
// DOM or the network, so Node's test runner checks it
// (e2e/testdata/js/building.test.mjs).

/**
 * @typedef {object} CommandStatus the last command given to a door.
 * @property {string} id
 * @property {string} action "unlock", "lock" or "mode".
 * @property {"pending" | "ok" | "failed"} state
 * @property {string} [error]
 * @property {string} by user, or "system".
 * @property {string} at RFC 3339.
 */

/**
 * @typedef {object} Door a door's live state with the settings the page shows (DoorStatus).
 * @property {string} id
 * @property {string} name
 * @property {string} floor
 * @property {string} building
 * @property {string} controller
 * @property {string} mode "controlled", "unlocked_schedule" or "locked_down".
 * @property {boolean} lockdown a lockdown covers the door.
 * @property {string} lock "locked", "unlocked" or "" (not reported yet).
 * @property {string} contact "closed", "open", "fault" or "".
 * @property {boolean} tamper
 * @property {boolean} online the door's controller is online.
 * @property {boolean} alarm the door has an open alarm.
 * @property {string} [unlocked_until] RFC 3339.
 * @property {number} [unlock_seconds] how long the door unlocks for a grant or a momentary unlock.
 * @property {string[]} [cameras]
 * @property {CommandStatus} [last_command]
 * @property {string} [changed_at]
 */

/**
 * @typedef {object} Alarm one alarm of the queue.
 * @property {number} id
 * @property {string} kind one of ALARM_KINDS.
 * @property {"critical" | "major" | "minor"} severity
 * @property {"new" | "acknowledged" | "resolved"} state
 * @property {string} [door]
 * @property {string} [controller]
 * @property {string} [reader]
 * @property {string} [camera] the camera a camera alarm is about.
 * @property {string} [floor]
 * @property {string} [building]
 * @property {string[]} [cameras] the door's linked cameras, or a camera alarm's own camera.
 * @property {string} message
 * @property {number} count
 * @property {string} raised_at
 * @property {string} [acked_at]
 * @property {string} [acked_by]
 * @property {string} [ack_comment]
 * @property {string} [resolved_at]
 * @property {string} [resolved_by]
 * @property {string} [resolve_comment]
 */

/**
 * @typedef {object} AccessEvent one access decision.
 * @property {number} id
 * @property {string} at
 * @property {string} door
 * @property {string} door_name
 * @property {string} controller
 * @property {string} reader
 * @property {string} direction "in" or "out".
 * @property {string} card
 * @property {string} cardholder id, "" for an unknown card.
 * @property {string} cardholder_name
 * @property {boolean} granted
 * @property {string} reason
 */

/**
 * @typedef {object} Scope what a lockdown covers.
 * @property {"building" | "floor"} kind
 * @property {string} id
 */

/**
 * @typedef {object} Lockdown
 * @property {Scope} scope
 * @property {string} reason
 * @property {string} started_by
 * @property {string} started_at
 */

/**
 * @typedef {object} ControllerStatus
 * @property {string} id
 * @property {string} name
 * @property {boolean} online
 * @property {string} [last_seen]
 * @property {number} heartbeat_seconds
 * @property {string} fail_mode
 */

/** @typedef {{id: string, name: string, time_zone: string, anti_passback: boolean}} Site */
/** @typedef {{id: string, site: string, name: string}} Building */
/** @typedef {{id: string, building: string, name: string, level: number, plan?: string}} Floor */
/** @typedef {{floor: string, kind: string, device: string, x: number, y: number}} Placement */

/**
 * @typedef {object} BuildingState everything the page holds.
 * @property {Site[]} sites
 * @property {Building[]} buildings
 * @property {Floor[]} floors
 * @property {Map<string, Door>} doors by id.
 * @property {Lockdown[]} lockdowns
 * @property {Map<string, ControllerStatus>} controllers by id.
 * @property {Map<number, Alarm>} alarms the open ones, by id.
 * @property {Placement[] | null} placements on every floor, as the overview gave them (null: it gave none).
 */

/** @returns {BuildingState} */
export function emptyState() {
  return { sites: [], buildings: [], floors: [], doors: new Map(), lockdowns: [], controllers: new Map(), alarms: new Map(), placements: null };
}

/**
 * applyOverview fills the state from a building.overview result.
 * @param {BuildingState} s
 * @param {any} o
 */
export function applyOverview(s, o) {
  s.sites = arr(o?.sites);
  s.buildings = arr(o?.buildings);
  s.floors = sortFloors(arr(o?.floors));
  s.doors.clear();
  for (const d of arr(o?.doors)) if (d?.id) s.doors.set(d.id, d);
  s.lockdowns = arr(o?.lockdowns);
  s.controllers.clear();
  for (const c of arr(o?.controllers)) if (c?.id) s.controllers.set(c.id, c);
  s.alarms.clear();
  for (const a of arr(o?.alarms)) if (a?.id && a.state !== "resolved") s.alarms.set(a.id, a);
  s.placements = Array.isArray(o?.placements) ? o.placements : null;
}

/**
 * @param {unknown} v
 * @returns {any[]}
 */
function arr(v) {
  return Array.isArray(v) ? v : [];
}

/**
 * sortFloors orders floors by building, then from the top floor down, as
 * a lift panel lists them.
 * @param {Floor[]} floors
 * @returns {Floor[]}
 */
export function sortFloors(floors) {
  return [...floors].sort((a, b) => a.building.localeCompare(b.building) || b.level - a.level || a.name.localeCompare(b.name));
}

/**
 * applyDoorEvent applies one event of the building.doors topic. A
 * snapshot replaces the doors (and the lockdowns when it carries them);
 * door_changed carries a door's whole state, door_removed drops it; the
 * lockdown events add or remove a lockdown. It returns the id of the door
 * that changed, "*" when many may have, or "".
 * @param {BuildingState} s
 * @param {{kind: string, data: any}} ev
 * @returns {string}
 */
export function applyDoorEvent(s, ev) {
  const d = ev.data ?? {};
  switch (ev.kind) {
    case "snapshot":
      s.doors.clear();
      for (const x of arr(d.doors)) if (x?.id) s.doors.set(x.id, x);
      if (Array.isArray(d.lockdowns)) s.lockdowns = d.lockdowns;
      return "*";
    case "building.door_changed":
      if (!d.door?.id) return "";
      s.doors.set(d.door.id, d.door);
      return d.door.id;
    case "building.door_removed":
      if (!d.door?.id) return "";
      s.doors.delete(d.door.id);
      return d.door.id;
    case "building.lockdown_started": {
      const l = d.lockdown;
      if (!l?.scope) return "";
      s.lockdowns = [...s.lockdowns.filter((x) => !sameScope(x.scope, l.scope)), l];
      return "*";
    }
    case "building.lockdown_released": {
      const l = d.lockdown;
      if (!l?.scope) return "";
      s.lockdowns = s.lockdowns.filter((x) => !sameScope(x.scope, l.scope));
      return "*";
    }
  }
  return "";
}

/**
 * applyFloorEvent applies building.floor_changed: the floor's details
 * (its plan's content type) and every device placed on it. It returns the
 * floor's id, or "" when the event is unusable.
 * @param {BuildingState} s
 * @param {{floor?: Floor, placements?: Placement[]}} d
 * @returns {string}
 */
export function applyFloorEvent(s, d) {
  const f = d?.floor;
  if (!f?.id) return "";
  s.floors = sortFloors([...s.floors.filter((x) => x.id !== f.id), f]);
  if (s.placements) {
    const on = arr(d.placements);
    const moved = new Set(on.map((p) => `${p.kind}/${p.device}`));
    s.placements = [...s.placements.filter((p) => p.floor !== f.id && !moved.has(`${p.kind}/${p.device}`)), ...on];
  }
  return f.id;
}

/**
 * @param {Scope} a
 * @param {Scope} b
 */
export function sameScope(a, b) {
  return a.kind === b.kind && a.id === b.id;
}

/**
 * applyAlarmEvent applies one event of the building.alarms topic to the
 * open alarms. It returns what the page should do: "sound" for a new
 * alarm or one that happened again (it flashes and beeps), "update" for
 * any other change, "" when nothing changed.
 * @param {Map<number, Alarm>} alarms
 * @param {{kind: string, data: any}} ev
 * @returns {"sound" | "update" | ""}
 */
export function applyAlarmEvent(alarms, ev) {
  if (ev.kind === "snapshot") {
    const before = new Set(alarms.keys());
    alarms.clear();
    let fresh = false;
    for (const a of arr(ev.data?.alarms)) {
      if (!a?.id || a.state === "resolved") continue;
      alarms.set(a.id, a);
      if (a.state === "new" && before.size > 0 && !before.has(a.id)) fresh = true;
    }
    return fresh ? "sound" : "update";
  }
  /** @type {Alarm | undefined} */
  const a = ev.data?.alarm;
  if (!a?.id) return "";
  if (a.state === "resolved" || ev.kind === "building.alarm_resolved") {
    return alarms.delete(a.id) ? "update" : "";
  }
  alarms.set(a.id, a);
  return ev.kind === "building.alarm_raised" || ev.kind === "building.alarm_repeated" ? "sound" : "update";
}

/**
 * applyControllerEvent applies one event of the building.controllers
 * topic; it returns the id of the controller that changed, or "*".
 * @param {Map<string, ControllerStatus>} ctrls
 * @param {{kind: string, data: any}} ev
 * @returns {string}
 */
export function applyControllerEvent(ctrls, ev) {
  if (ev.kind === "snapshot") {
    ctrls.clear();
    for (const c of arr(ev.data?.controllers)) if (c?.id) ctrls.set(c.id, c);
    return "*";
  }
  const c = ev.data?.controller;
  if (!c?.id) return "";
  if (ev.kind === "building.controller_removed") ctrls.delete(c.id);
  else ctrls.set(c.id, c);
  return c.id;
}

/** The severities, most urgent first. */
export const SEVERITIES = Object.freeze(["critical", "major", "minor"]);

/** The alarm kinds. */
export const ALARM_KINDS = Object.freeze(["forced_open", "held_open", "tamper", "controller_offline", "repeated_denials", "camera_offline", "camera_tamper"]);

/**
 * sortAlarms orders alarms as the queue shows them: new before
 * acknowledged, then the most severe, then the newest.
 * @param {Iterable<Alarm>} alarms
 * @returns {Alarm[]}
 */
export function sortAlarms(alarms) {
  const stateRank = (/** @type {string} */ st) => (st === "new" ? 0 : st === "acknowledged" ? 1 : 2);
  return [...alarms].sort(
    (a, b) =>
      stateRank(a.state) - stateRank(b.state) ||
      SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
      Date.parse(b.raised_at) - Date.parse(a.raised_at) ||
      b.id - a.id,
  );
}

/**
 * @typedef {"alarm" | "offline" | "fault" | "open" | "unlocked" | "locked" | "unknown"} DoorLook
 */

/** Every look a door can have, in the order the legend lists them. */
export const DOOR_LOOKS = Object.freeze(/** @type {DoorLook[]} */ (["locked", "unlocked", "open", "alarm", "fault", "offline", "unknown"]));

/**
 * doorLook is how a door is drawn, most urgent first: an open alarm, its
 * controller offline, a contact fault, open, unlocked, locked; "unknown"
 * before the controller has reported the door.
 * @param {Door} d
 * @returns {DoorLook}
 */
export function doorLook(d) {
  if (d.alarm || d.tamper) return "alarm";
  if (!d.online) return "offline";
  if (d.contact === "fault") return "fault";
  if (d.contact === "open") return "open";
  if (d.lock === "unlocked") return "unlocked";
  if (d.lock === "locked") return "locked";
  return "unknown";
}

/**
 * lockdownFor returns the lockdown that covers a door (its building's or
 * its floor's), or null.
 * @param {Lockdown[]} lockdowns
 * @param {Door} d
 * @returns {Lockdown | null}
 */
export function lockdownFor(lockdowns, d) {
  return lockdowns.find((l) => (l.scope.kind === "building" && l.scope.id === d.building) || (l.scope.kind === "floor" && l.scope.id === d.floor)) ?? null;
}

/**
 * byName orders things by name as people read them ("Door 9" before
 * "Door 10"), then by id.
 * @param {{id: string, name: string}} a
 * @param {{id: string, name: string}} b
 */
export function byName(a, b) {
  return a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id);
}

/**
 * clamp01 keeps a plan position inside the plan.
 * @param {number} v
 */
export function clamp01(v) {
  if (!Number.isFinite(v)) return 0;
  return Math.min(1, Math.max(0, v));
}

/**
 * roundPos rounds a plan fraction to 4 decimals: a tenth of a pixel on a
 * 1000-pixel plan, and stable in the store.
 * @param {number} v
 */
export function roundPos(v) {
  return Math.round(clamp01(v) * 10000) / 10000;
}

/** Where the access events are exported (webui). */
export const ACCESS_CSV_PATH = "/api/building/access.csv";

/** The access events one page of the search asks for. */
export const ACCESS_PAGE = 100;

/**
 * floorPlanURL is where a floor's plan image is served; version busts
 * the browser's cache after an upload.
 * @param {string} floor
 * @param {string | number} [version]
 */
export function floorPlanURL(floor, version) {
  const u = `/api/building/floors/${encodeURIComponent(floor)}/plan`;
  return version ? `${u}?v=${encodeURIComponent(String(version))}` : u;
}

/**
 * @typedef {object} AccessFilter the access search's filters as the server takes them.
 * @property {string} cardholder cardholder id.
 * @property {string} card
 * @property {string} door
 * @property {"" | "true" | "false"} granted
 * @property {string} from RFC 3339, or "".
 * @property {string} to RFC 3339, or "".
 */

/** @returns {AccessFilter} */
export function noAccessFilter() {
  return { cardholder: "", card: "", door: "", granted: "", from: "", to: "" };
}

/**
 * localToRFC3339 turns the value of an <input type=datetime-local>
 * ("2026-03-02T08:30") or <input type=date> ("2026-03-02", midnight,
 * plus addDays days) into RFC 3339 in UTC; "" when it is empty or
 * malformed.
 * @param {string} value
 * @param {number} [addDays]
 * @returns {string}
 */
export function localToRFC3339(value, addDays = 0) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(value.trim());
  if (!m) return "";
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + addDays, Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/**
 * toLocalInput is the value an <input type=datetime-local> shows for a
 * time (the browser's zone, to the minute).
 * @param {Date} d
 * @returns {string}
 */
export function toLocalInput(d) {
  /** @param {number} n */
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Card numbers as civicd reads them: letters and digits, separators ignored. */
const CARD_RE = /^[0-9A-Za-z:._\- ]{1,64}$/;

/**
 * accessFilter turns the search form's values into filters, or names the
 * dictionary key of what is wrong with them. Dates take whole days.
 * @param {{cardholder: string, card: string, door: string, granted: string, fromDay: string, toDay: string}} v
 * @returns {{filter: AccessFilter} | {problem: string}}
 */
export function accessFilter(v) {
  const card = v.card.trim();
  if (card && !CARD_RE.test(card)) return { problem: "bld.access.bad_card" };
  if (v.fromDay && v.toDay && v.toDay < v.fromDay) return { problem: "bld.access.bad_range" };
  const granted = v.granted === "true" || v.granted === "false" ? v.granted : "";
  return {
    filter: { cardholder: v.cardholder.trim(), card, door: v.door.trim(), granted, from: localToRFC3339(v.fromDay), to: v.toDay ? localToRFC3339(v.toDay, 1) : "" },
  };
}

/**
 * accessParams are the building.access.list params of a filter.
 * @param {AccessFilter} f
 * @param {number} [beforeID]
 * @returns {Record<string, unknown>}
 */
export function accessParams(f, beforeID = 0) {
  /** @type {Record<string, unknown>} */
  const p = { limit: ACCESS_PAGE };
  if (f.cardholder) p.cardholder = f.cardholder;
  if (f.card) p.card = f.card;
  if (f.door) p.door = f.door;
  if (f.granted) p.granted = f.granted === "true";
  if (f.from) p.from = f.from;
  if (f.to) p.to = f.to;
  if (beforeID > 0) p.before_id = beforeID;
  return p;
}

/**
 * accessCSVHref is the export link of a filter: only the filters set.
 * @param {AccessFilter} f
 * @returns {string}
 */
export function accessCSVHref(f) {
  const q = new URLSearchParams();
  for (const k of /** @type {const} */ (["cardholder", "card", "door", "granted", "from", "to"])) if (f[k]) q.set(k, f[k]);
  const s = q.toString();
  return s ? `${ACCESS_CSV_PATH}?${s}` : ACCESS_CSV_PATH;
}

/**
 * normCard is a card number as civicd stores it: upper case, without
 * separators, so the page can match live events against a card filter.
 * @param {string} c
 */
export function normCard(c) {
  return c.replace(/[:._\-\s]/g, "").toUpperCase();
}

/**
 * accessMatches reports whether a live access event belongs in a search
 * with filter f, as the server would select it.
 * @param {AccessEvent} e
 * @param {AccessFilter} f
 */
export function accessMatches(e, f) {
  if (f.cardholder && e.cardholder !== f.cardholder) return false;
  if (f.card && normCard(e.card) !== normCard(f.card)) return false;
  if (f.door && e.door !== f.door) return false;
  if (f.granted && String(e.granted) !== f.granted) return false;
  const t = Date.parse(e.at);
  if (f.from && !(t >= Date.parse(f.from))) return false;
  if (f.to && !(t < Date.parse(f.to))) return false;
  return true;
}

/** Days of a schedule window, in the order the editor lists them. */
export const DAYS = Object.freeze(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"]);

/**
 * @typedef {{day: string, start: string, end: string}} Window
 */

/**
 * minutesOf reads "HH:MM" (00:00-24:00) as minutes, or -1.
 * @param {string} s
 */
export function minutesOf(s) {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (!m) return -1;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 24 || min > 59 || (h === 24 && min !== 0)) return -1;
  return h * 60 + min;
}

/**
 * checkWindows names the dictionary key of the first problem with a
 * schedule's windows, or returns "".
 * @param {Window[]} ws
 * @returns {string}
 */
export function checkWindows(ws) {
  for (const w of ws) {
    if (!DAYS.includes(w.day)) return "bld.sched.bad_day";
    const a = minutesOf(w.start);
    const b = minutesOf(w.end);
    if (a < 0 || b < 0 || a === 24 * 60) return "bld.sched.bad_time";
    if (b <= a) return "bld.sched.end_before_start";
  }
  return "";
}

/**
 * windowsSummary lists a schedule's windows by day for a table cell:
 * "mon 08:00-18:00, 19:00-22:00; tue ..." with day names from dayName.
 * @param {Window[]} ws
 * @param {(day: string) => string} dayName
 * @returns {string}
 */
export function windowsSummary(ws, dayName) {
  /** @type {string[]} */
  const parts = [];
  for (const day of DAYS) {
    const spans = ws
      .filter((w) => w.day === day)
      .sort((a, b) => minutesOf(a.start) - minutesOf(b.start))
      .map((w) => `${w.start}-${w.end}`);
    if (spans.length) parts.push(`${dayName(day)} ${spans.join(", ")}`);
  }
  return parts.join("; ");
}

/**
 * splitList reads a list typed into one field: separated by commas,
 * semicolons, spaces or new lines (also the Chinese comma), each once.
 * @param {string} s
 * @returns {string[]}
 */
export function splitList(s) {
  /** @type {string[]} */
  const out = [];
  for (const m of s.split(/[\s,;，、；]+/)) {
    const x = m.trim();
    if (x && !out.includes(x)) out.push(x);
  }
  return out;
}

/** Ids of places, controllers and doors: 1-64 of A-Z a-z 0-9 . _ - */
export const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * firstArray returns the first array among a result's values (list
 * results are {doors:[...]}, {cardholders:[...]}, ...).
 * @param {unknown} res
 * @returns {any[]}
 */
export function firstArray(res) {
  if (Array.isArray(res)) return res;
  if (res && typeof res === "object") for (const v of Object.values(res)) if (Array.isArray(v)) return v;
  return [];
}
