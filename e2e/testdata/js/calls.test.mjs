// Unit tests of the Phones page's calls panels (views/calls.js and
// views/call-records.js) and its tabs, run with Node's test runner by
// e2e/jsunit_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";

// i18n.js sets <html lang>; give it the little DOM it touches.
globalThis.document ??= /** @type {any} */ ({ documentElement: { lang: "" } });

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const { applyCallEvent, callSeconds, formatClock } = await import(new URL("views/calls.js", static_).href);
const { recordFilter, csvHref, recordMatches, dayStart, RESULTS, RECORDS_CSV_PATH } = await import(new URL("views/call-records.js", static_).href);
const { phonesTab } = await import(new URL("views/phones.js", static_).href);
const { I18n } = await import(new URL("i18n.js", static_).href);

const call = (id, more = {}) => ({ id, caller: "1001", callee: "1002", target: "1002", state: "ringing", started: "2026-03-02T09:30:00Z", ...more });

test("call events: a snapshot replaces, changes carry the whole call, an end removes it and hands over its record", () => {
  const calls = new Map([["old", call("old")]]);
  assert.equal(applyCallEvent(calls, { kind: "snapshot", data: { calls: [call("a"), call("b")] } }), null);
  assert.deepEqual([...calls.keys()], ["a", "b"]);

  assert.equal(applyCallEvent(calls, { kind: "voip.call_changed", data: { call: call("a", { state: "answered", answered: "2026-03-02T09:30:05Z", codec: "PCMU" }) } }), null);
  assert.equal(calls.get("a").state, "answered");
  applyCallEvent(calls, { kind: "voip.call_changed", data: { call: call("c") } });
  assert.equal(calls.size, 3, "a new call is added");

  // voip announces the "ended" state as a change just before the end.
  applyCallEvent(calls, { kind: "voip.call_changed", data: { call: call("c", { state: "ended" }) } });
  assert.ok(!calls.has("c"), "a change to ended removes the call");
  const record = { id: 9, call_id: "a", result: "answered" };
  assert.deepEqual(applyCallEvent(calls, { kind: "voip.call_ended", data: { call: call("a", { state: "ended" }), record } }), record);
  assert.deepEqual([...calls.keys()], ["b"]);
  assert.equal(applyCallEvent(calls, { kind: "voip.call_ended", data: { call: call("zzz", { state: "ended" }) } }), null, "an end without a record hands nothing over");
  assert.equal(applyCallEvent(calls, { kind: "voip.call_changed", data: {} }), null);
  assert.equal(calls.size, 1, "an event without a call changes nothing");
});

test("a call's running time counts from the answer, or from the start while it rings", () => {
  const now = Date.parse("2026-03-02T09:31:10Z");
  assert.equal(callSeconds(call("a"), now), 70);
  assert.equal(callSeconds(call("a", { answered: "2026-03-02T09:30:05Z" }), now), 65);
  assert.equal(callSeconds(call("a"), Date.parse("2026-03-02T09:29:00Z")), 0, "never negative with a skewed clock");
  assert.equal(callSeconds(call("a", { started: "garbage" }), now), 0);
});

test("durations read like a phone's display", () => {
  const cases = [
    [0, "0:00"],
    [7, "0:07"],
    [65.9, "1:05"],
    [754, "12:34"],
    [3723, "1:02:03"],
    [-5, "0:00"],
  ];
  for (const [s, want] of cases) assert.equal(formatClock(s), want, String(s));
});

test("record filters: whole local days, a checked extension, a known result", () => {
  const ok = recordFilter({ extension: " 1001 ", result: "busy", fromDay: "2026-03-02", toDay: "2026-03-02" });
  assert.ok("filter" in ok);
  assert.equal(ok.filter.extension, "1001");
  assert.equal(ok.filter.result, "busy");
  assert.equal(ok.filter.from, new Date(2026, 2, 2).toISOString(), "from the start of the first day");
  assert.equal(ok.filter.to, new Date(2026, 2, 3).toISOString(), "to the start of the day after the last");
  assert.equal(recordFilter({ extension: "", result: "bogus", fromDay: "", toDay: "" }).filter.result, "", "an unknown result is no filter");
  assert.deepEqual(recordFilter({ extension: "10 01", result: "", fromDay: "", toDay: "" }), { problem: "records.bad_extension" });
  assert.deepEqual(recordFilter({ extension: "1".repeat(33), result: "", fromDay: "", toDay: "" }), { problem: "records.bad_extension" });
  assert.deepEqual(recordFilter({ extension: "", result: "", fromDay: "2026-03-03", toDay: "2026-03-02" }), { problem: "records.bad_range" });
  assert.equal(dayStart(""), "");
  assert.equal(dayStart("2026-12-31", 1), new Date(2027, 0, 1).toISOString(), "the day after the last of the year");
  assert.deepEqual(RESULTS, ["answered", "busy", "no_answer", "unavailable", "unknown_number", "cancelled", "refused", "failed"]);
});

test("the export link carries only the filters that are set", () => {
  assert.equal(csvHref({ extension: "", result: "", from: "", to: "" }), RECORDS_CSV_PATH);
  const href = csvHref({ extension: "1001", result: "", from: "2026-03-01T16:00:00.000Z", to: "" });
  assert.equal(href, `${RECORDS_CSV_PATH}?extension=1001&from=2026-03-01T16%3A00%3A00.000Z`);
  const q = new URL(href, "https://x").searchParams;
  assert.equal(q.get("from"), "2026-03-01T16:00:00.000Z");
  assert.equal(q.has("result"), false);
});

test("a record that just ended joins the list when it matches as the server would", () => {
  const r = { id: 1, call_id: "a", caller: "1001", callee: "600", final_target: "1003", started: "2026-03-02T09:30:00Z", result: "answered", duration_ms: 1000 };
  const none = { extension: "", result: "", from: "", to: "" };
  const cases = [
    [none, true],
    [{ ...none, extension: "1001" }, true],
    [{ ...none, extension: "600" }, true],
    [{ ...none, extension: "1003" }, true],
    [{ ...none, extension: "1002" }, false],
    [{ ...none, result: "answered" }, true],
    [{ ...none, result: "busy" }, false],
    [{ ...none, from: "2026-03-02T09:30:00Z" }, true],
    [{ ...none, to: "2026-03-02T09:30:00Z" }, false],
    [{ ...none, from: "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z" }, true],
  ];
  for (const [f, want] of cases) assert.equal(recordMatches(r, f), want, JSON.stringify(f));
});

test("the Phones page's tab follows the address, calls only for those who may watch them", () => {
  assert.equal(phonesTab("#/phones", true), "directory");
  assert.equal(phonesTab("#/phones/calls", true), "calls");
  assert.equal(phonesTab("#/phones/calls", false), "directory");
  assert.equal(phonesTab("#/phones/callsx", true), "directory");
});

test("call states and results have words in both languages", () => {
  for (const lang of ["en", "zh-CN"]) {
    const i18n = new I18n({ languages: [lang] });
    for (const s of ["ringing", "answered", "held", "ended"]) assert.ok(i18n.t(`calls.state.${s}`) !== `calls.state.${s}`, `${lang} calls.state.${s}`);
    for (const r of RESULTS) assert.ok(i18n.t(`records.result.${r}`) !== `records.result.${r}`, `${lang} records.result.${r}`);
  }
  assert.equal(new I18n({ languages: ["zh-CN"] }).t("calls.confirm_hangup", { caller: "1001", callee: "1002" }), "确定挂断 1001 拨打 1002 的通话？双方话机将立即断开。");
});
