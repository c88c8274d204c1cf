// Unit tests of the Building page's pure functions (views/building-model.js,
// building-plan.js, building-sound.js, building.js), run with Node's test
// runner by e2e/jsunit_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";

// i18n.js sets <html lang>; give it the little DOM it touches.
globalThis.document ??= /** @type {any} */ ({ documentElement: { lang: "" } });

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const m = await import(new URL("views/building-model.js", static_).href);
const { planFloor } = await import(new URL("views/building-plan.js", static_).href);
const { beepSamples } = await import(new URL("views/building-sound.js", static_).href);
const { buildingTab } = await import(new URL("views/building.js", static_).href);
const { isoToLocal, checkFields } = await import(new URL("views/building-forms.js", static_).href);
const { I18n } = await import(new URL("i18n.js", static_).href);
const { REQUEST_TYPES, TOPICS } = await import(new URL("protocol.js", static_).href);

const door = (id, more = {}) => ({
  id,
  name: `Door ${id}`,
  floor: "f1",
  building: "b1",
  controller: "c1",
  mode: "controlled",
  lockdown: false,
  lock: "locked",
  contact: "closed",
  tamper: false,
  online: true,
  alarm: false,
  cameras: [],
  ...more,
});
const alarm = (id, more = {}) => ({ id, kind: "forced_open", severity: "critical", state: "new", door: "d1", message: "", count: 1, raised_at: "2026-03-02T09:00:00Z", ...more });

test("a door's look: alarm, then offline, fault, open, unlocked, locked", () => {
  const cases = [
    [{}, "locked"],
    [{ lock: "unlocked" }, "unlocked"],
    [{ lock: "unlocked", contact: "open" }, "open"],
    [{ contact: "fault" }, "fault"],
    [{ online: false, contact: "open" }, "offline"],
    [{ online: false, alarm: true }, "alarm"],
    [{ tamper: true }, "alarm"],
    [{ lock: "", contact: "" }, "unknown"],
  ];
  for (const [more, want] of cases) assert.equal(m.doorLook(door("d1", more)), want, JSON.stringify(more));
});

test("door events: snapshot replaces, changes carry the whole door, lockdowns come and go", () => {
  const s = m.emptyState();
  s.doors.set("old", door("old"));
  assert.equal(m.applyDoorEvent(s, { kind: "snapshot", data: { doors: [door("d1"), door("d2")], lockdowns: [] } }), "*");
  assert.deepEqual([...s.doors.keys()], ["d1", "d2"]);
  assert.equal(m.applyDoorEvent(s, { kind: "building.door_changed", data: { door: door("d1", { lock: "unlocked" }) } }), "d1");
  assert.equal(s.doors.get("d1").lock, "unlocked");
  assert.equal(m.applyDoorEvent(s, { kind: "building.door_removed", data: { door: door("d2") } }), "d2");
  assert.deepEqual([...s.doors.keys()], ["d1"]);
  const ld = { scope: { kind: "building", id: "b1" }, reason: "drill", started_by: "admin", started_at: "2026-03-02T09:00:00Z" };
  assert.equal(m.applyDoorEvent(s, { kind: "building.lockdown_started", data: { lockdown: ld } }), "*");
  assert.equal(m.applyDoorEvent(s, { kind: "building.lockdown_started", data: { lockdown: ld } }), "*");
  assert.equal(s.lockdowns.length, 1, "the same scope twice is one lockdown");
  assert.equal(m.lockdownFor(s.lockdowns, door("d1"))?.reason, "drill");
  assert.equal(m.lockdownFor(s.lockdowns, door("x", { building: "b2" })), null);
  assert.equal(m.applyDoorEvent(s, { kind: "building.lockdown_released", data: { lockdown: ld } }), "*");
  assert.equal(s.lockdowns.length, 0);
  assert.equal(m.applyDoorEvent(s, { kind: "building.door_changed", data: {} }), "", "an event without a door changes nothing");
});

test("alarm events: raised and repeated sound, acknowledged updates, resolved leaves the queue", () => {
  const alarms = new Map();
  assert.equal(m.applyAlarmEvent(alarms, { kind: "snapshot", data: { alarms: [alarm(1)] } }), "update", "the first snapshot is not news");
  assert.equal(m.applyAlarmEvent(alarms, { kind: "building.alarm_raised", data: { alarm: alarm(2) } }), "sound");
  assert.equal(m.applyAlarmEvent(alarms, { kind: "building.alarm_repeated", data: { alarm: alarm(2, { count: 2 }) } }), "sound");
  assert.equal(alarms.get(2).count, 2);
  assert.equal(m.applyAlarmEvent(alarms, { kind: "building.alarm_acknowledged", data: { alarm: alarm(2, { state: "acknowledged" }) } }), "update");
  assert.equal(m.applyAlarmEvent(alarms, { kind: "building.alarm_resolved", data: { alarm: alarm(2, { state: "resolved" }) } }), "update");
  assert.equal(alarms.has(2), false);
  assert.equal(m.applyAlarmEvent(alarms, { kind: "building.alarm_resolved", data: { alarm: alarm(9, { state: "resolved" }) } }), "", "resolving one not held changes nothing");
  // A snapshot after a reconnect that brings a new alarm sounds.
  assert.equal(m.applyAlarmEvent(alarms, { kind: "snapshot", data: { alarms: [alarm(1), alarm(3)] } }), "sound");
  assert.equal(m.applyAlarmEvent(alarms, { kind: "snapshot", data: { alarms: [alarm(1), alarm(3)] } }), "update");
});

test("the alarm queue: new first, then severity, then newest", () => {
  const list = m.sortAlarms([
    alarm(1, { state: "acknowledged", severity: "critical" }),
    alarm(2, { severity: "minor" }),
    alarm(3, { severity: "critical", raised_at: "2026-03-02T08:00:00Z" }),
    alarm(4, { severity: "critical", raised_at: "2026-03-02T10:00:00Z" }),
    alarm(5, { severity: "major" }),
  ]);
  assert.deepEqual(list.map((a) => a.id), [4, 3, 5, 2, 1]);
});

test("controller events", () => {
  const c = new Map();
  assert.equal(m.applyControllerEvent(c, { kind: "snapshot", data: { controllers: [{ id: "c1", online: false }] } }), "*");
  assert.equal(m.applyControllerEvent(c, { kind: "building.controller_online", data: { controller: { id: "c1", online: true } } }), "c1");
  assert.equal(c.get("c1").online, true);
  assert.equal(m.applyControllerEvent(c, { kind: "building.controller_removed", data: { controller: { id: "c1" } } }), "c1");
  assert.equal(c.size, 0);
});

test("the overview fills the state; floors list from the top down", () => {
  const s = m.emptyState();
  m.applyOverview(s, {
    sites: [{ id: "s" }],
    buildings: [{ id: "b1", site: "s", name: "Main" }],
    floors: [
      { id: "g", building: "b1", name: "Ground", level: 0 },
      { id: "b", building: "b1", name: "Basement", level: -1 },
      { id: "f2", building: "b1", name: "Second", level: 2 },
    ],
    doors: [door("d1")],
    alarms: [alarm(1), alarm(2, { state: "resolved" })],
    controllers: [{ id: "c1", online: true }],
    lockdowns: null,
  });
  assert.deepEqual(s.floors.map((f) => f.id), ["f2", "g", "b"]);
  assert.deepEqual([...s.alarms.keys()], [1], "resolved alarms are not held");
  assert.deepEqual(s.lockdowns, []);
  assert.equal(s.controllers.get("c1").online, true);
});

test("access filters: params, CSV link, live matching", () => {
  const bad = m.accessFilter({ cardholder: "", card: "04<script>", door: "", granted: "", fromDay: "", toDay: "" });
  assert.deepEqual(bad, { problem: "bld.access.bad_card" });
  assert.deepEqual(m.accessFilter({ cardholder: "", card: "", door: "", granted: "", fromDay: "2026-03-05", toDay: "2026-03-01" }), { problem: "bld.access.bad_range" });
  const got = m.accessFilter({ cardholder: " ch1 ", card: "04:a3:1f", door: "d1", granted: "false", fromDay: "2026-03-01", toDay: "2026-03-01" });
  assert.ok("filter" in got);
  const f = got.filter;
  assert.equal(f.cardholder, "ch1");
  assert.equal(Date.parse(f.to) - Date.parse(f.from), 24 * 3600 * 1000, "one whole day");
  const p = m.accessParams(f, 42);
  assert.equal(p.granted, false);
  assert.equal(p.before_id, 42);
  assert.equal(p.limit, m.ACCESS_PAGE);
  assert.equal(m.accessParams(m.noAccessFilter()).granted, undefined);
  assert.equal(m.accessCSVHref(m.noAccessFilter()), "/api/building/access.csv");
  assert.equal(m.accessCSVHref({ ...m.noAccessFilter(), door: "d 1", granted: "true" }), "/api/building/access.csv?door=d+1&granted=true");
  const ev = { id: 1, at: f.from, door: "d1", card: "04A31F", cardholder: "ch1", granted: false };
  assert.equal(m.accessMatches(ev, f), true, "the card matches whatever its separators");
  assert.equal(m.accessMatches({ ...ev, granted: true }, f), false);
  assert.equal(m.accessMatches({ ...ev, at: f.to }, f), false, "the end is exclusive");
  assert.equal(m.accessMatches({ ...ev, door: "d2" }, f), false);
});

test("schedule windows: checks and summary", () => {
  assert.equal(m.checkWindows([{ day: "mon", start: "08:00", end: "18:00" }, { day: "holiday", start: "00:00", end: "24:00" }]), "");
  assert.equal(m.checkWindows([{ day: "xyz", start: "08:00", end: "18:00" }]), "bld.sched.bad_day");
  assert.equal(m.checkWindows([{ day: "mon", start: "8:00", end: "18:00" }]), "bld.sched.bad_time");
  assert.equal(m.checkWindows([{ day: "mon", start: "24:00", end: "24:00" }]), "bld.sched.bad_time");
  assert.equal(m.checkWindows([{ day: "mon", start: "18:00", end: "08:00" }]), "bld.sched.end_before_start");
  assert.equal(m.checkWindows([{ day: "mon", start: "08:00", end: "24:30" }]), "bld.sched.bad_time");
  const sum = m.windowsSummary(
    [
      { day: "tue", start: "08:00", end: "12:00" },
      { day: "mon", start: "13:00", end: "18:00" },
      { day: "mon", start: "08:00", end: "12:00" },
    ],
    (d) => d.toUpperCase(),
  );
  assert.equal(sum, "MON 08:00-12:00, 13:00-18:00; TUE 08:00-12:00");
});

test("lists, ids, positions, times", () => {
  assert.deepEqual(m.splitList("cam-1, cam-2，cam-1  cam-3"), ["cam-1", "cam-2", "cam-3"]);
  assert.equal(m.ID_RE.test("main-building_2.a"), true);
  assert.equal(m.ID_RE.test("has space"), false);
  assert.equal(m.roundPos(0.123456), 0.1235);
  assert.equal(m.roundPos(-1), 0);
  assert.equal(m.roundPos(Number.NaN), 0);
  assert.equal(m.roundPos(7), 1);
  assert.equal(m.localToRFC3339(""), "");
  assert.equal(m.localToRFC3339("2026-02-30x"), "");
  const t = m.localToRFC3339("2026-03-02T08:30");
  assert.equal(m.toLocalInput(new Date(t)), "2026-03-02T08:30", "a local time survives the round trip");
  assert.equal(isoToLocal(t), "2026-03-02T08:30");
  assert.equal(isoToLocal("0001-01-01T00:00:00Z"), "", "Go's zero time is no time");
  assert.deepEqual(m.firstArray({ next: 0, doors: [1, 2] }), [1, 2]);
  assert.deepEqual(m.firstArray(null), []);
  assert.equal(m.floorPlanURL("f 1", 5), "/api/building/floors/f%201/plan?v=5");
});

test("the plan shows the wanted floor, else one with doors, else the first", () => {
  const floors = [{ id: "f3" }, { id: "f2" }, { id: "f1" }];
  assert.equal(planFloor(floors, [door("d1", { floor: "f2" })], "f1"), "f1");
  assert.equal(planFloor(floors, [door("d1", { floor: "f2" })], "gone"), "f2");
  assert.equal(planFloor(floors, [], ""), "f3");
  assert.equal(planFloor([], [], "f1"), "");
});

test("the tab of a location hash", () => {
  assert.equal(buildingTab("#/building", true), "plan");
  assert.equal(buildingTab("#/building/alarms", false), "alarms");
  assert.equal(buildingTab("#/building/setup", false), "plan", "setup is for admins");
  assert.equal(buildingTab("#/building/setup", true), "setup");
  assert.equal(buildingTab("#/building/nonsense", true), "plan");
});

test("editor fields: required values and ids are checked", () => {
  const field = (spec, v) => ({ spec, read: () => v });
  assert.deepEqual(checkFields([field({ key: "name", label: "bld.f.name", type: "text", required: true }, undefined)]), { key: "bld.setup.required", label: "bld.f.name" });
  assert.deepEqual(checkFields([field({ key: "id", label: "bld.f.id", type: "id" }, "a b")]), { key: "bld.setup.bad_id", label: "bld.f.id" });
  assert.deepEqual(checkFields([field({ key: "level", label: "bld.f.level", type: "number" }, 1.5)]), { key: "bld.setup.bad_number", label: "bld.f.level" });
  assert.deepEqual(checkFields([field({ key: "id", label: "bld.f.id", type: "id" }, "ok-1")]), { key: "", label: "" });
});

test("the beep is short, quiet enough and silent at both ends", () => {
  const pcm = beepSamples(48000);
  assert.ok(pcm.length > 0.4 * 48000 && pcm.length < 0.7 * 48000, `length ${pcm.length}`);
  let peak = 0;
  for (const v of pcm) peak = Math.max(peak, Math.abs(v));
  assert.ok(peak > 0.2 && peak <= 0.35, `peak ${peak}`);
  assert.equal(pcm[0], 0);
  assert.ok(Math.abs(pcm[pcm.length - 1]) < 0.01);
});

test("every door look, alarm kind, reason and severity has words in both languages", () => {
  for (const lang of ["en", "zh-CN"]) {
    const i18n = new I18n({ languages: [lang] });
    const keys = [
      ...m.DOOR_LOOKS.map((l) => `bld.look.${l}`),
      ...m.ALARM_KINDS.map((k) => `bld.alarm.kind.${k}`),
      ...m.SEVERITIES.map((s) => `bld.sev.${s}`),
      ...m.DAYS.map((d) => `bld.day.${d}`),
      ...["granted", "unknown_card", "disabled", "not_yet_valid", "expired", "lockdown", "door_locked_down", "no_access", "outside_schedule", "bad_pin", "anti_passback"].map((r) => `bld.reason.${r}`),
    ];
    for (const k of keys) assert.notEqual(i18n.t(k), k, `${lang} has ${k}`);
  }
  const zh = new I18n({ languages: ["zh-CN"] });
  assert.equal(zh.t("bld.look.unlocked"), "已解锁");
});

test("the protocol names every building request and topic the page uses", () => {
  for (const t of ["building.overview", "building.doors.unlock", "building.doors.unlock_until", "building.doors.lock", "building.lockdown.start", "building.lockdown.release", "building.alarms.ack", "building.alarms.resolve", "building.alarms.history", "building.access.list", "building.placements.set"]) {
    assert.ok(Object.values(REQUEST_TYPES).includes(t), t);
  }
  for (const t of ["building.doors", "building.alarms", "building.access", "building.controllers"]) assert.ok(Object.values(TOPICS).includes(t), t);
});

test("floor events: the floor's plan and its placements replace what was known", () => {
  const s = m.emptyState();
  s.floors = [{ id: "f1", building: "b1", name: "One", level: 1 }, { id: "f2", building: "b1", name: "Two", level: 2 }];
  s.placements = [
    { kind: "door", device: "d1", floor: "f1", x: 0.1, y: 0.1 },
    { kind: "door", device: "d2", floor: "f2", x: 0.2, y: 0.2 },
  ];
  const id = m.applyFloorEvent(s, {
    floor: { id: "f1", building: "b1", name: "One", level: 1, plan: "image/svg+xml" },
    placements: [{ kind: "door", device: "d2", floor: "f1", x: 0.5, y: 0.5 }],
  });
  assert.equal(id, "f1");
  assert.equal(s.floors.find((f) => f.id === "f1").plan, "image/svg+xml");
  assert.deepEqual(s.placements.map((p) => `${p.device}@${p.floor}`).sort(), ["d2@f1"]);
  assert.equal(m.applyFloorEvent(s, { placements: [] }), "");
});

test("cardholder import: CSV with quotes, lists, dates and flags; problems named", async () => {
  const imp = await import(new URL("views/building-import.js", static_).href);
  const csv = '\uFEFFid,name,department,cards,access_levels,valid_until,status,responder\r\n' +
    'h1,"Wang, Li",Office,"A1; A2",staff,2027-01-01,active,yes\r\n' +
    ',"Say ""Hi""",,B1,,,disabled,\n\n';
  const got = imp.cardholdersFromCSV(csv);
  assert.equal(got.problem, undefined);
  assert.equal(got.cardholders.length, 2);
  assert.deepEqual(got.cardholders[0].cards, ["A1", "A2"]);
  assert.equal(got.cardholders[0].name, "Wang, Li");
  assert.equal(got.cardholders[0].responder, true);
  assert.match(String(got.cardholders[0].valid_until), /^2026-12-31T|^2027-01-01T/);
  assert.equal(got.cardholders[1].id, undefined);
  assert.equal(got.cardholders[1].name, 'Say "Hi"');
  assert.equal(got.cardholders[1].status, "disabled");
  assert.equal(imp.cardholdersFromCSV("name\n").problem?.key, "bld.import.empty");
  assert.equal(imp.cardholdersFromCSV("id,cards\nh1,A\n").problem?.key, "bld.import.no_name");
  assert.equal(imp.cardholdersFromCSV("name,badge\nX,1\n").problem?.vars?.column, "badge");
  assert.equal(imp.cardholdersFromCSV("name,cards\nX,1\n,2\n").problem?.vars?.row, 3);
});
