// Unit tests of the browser softphone's and the meeting's dial-out pure
// parts (softphone.js, softphone-ui.js, softphone-keypad.js,
// views/meeting-dialout.js), run with Node's test runner by
// e2e/jsunit_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";

// i18n.js sets <html lang>; give it the little DOM it touches.
globalThis.document ??= /** @type {any} */ ({ documentElement: { lang: "" } });

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const { ringFromEvent } = await import(new URL("softphone.js", static_).href);
const { isFinal, FINAL_STATES } = await import(new URL("softphone-ui.js", static_).href);
const { dtmfPair, typedKey, DtmfQueue } = await import(new URL("softphone-keypad.js", static_).href);
const { dialOutTone, matchEntry } = await import(new URL("views/meeting-dialout.js", static_).href);

test("a ringing event is read, and one without an id is not", () => {
  assert.deepEqual(ringFromEvent({ id: "r1", from: "1001", from_name: "前台", to: "2001" }), { id: "r1", from: "1001", from_name: "前台", to: "2001" });
  assert.deepEqual(ringFromEvent({ id: "r2", from: 1001 }), { id: "r2", from: "1001", from_name: "", to: "" });
  assert.equal(ringFromEvent({ from: "1001" }), null);
  assert.equal(ringFromEvent(null), null);
});

test("the final call states end the call; ringing and answered do not", () => {
  for (const s of ["busy", "declined", "no_answer", "unavailable", "unknown_number", "failed", "ended"]) {
    assert.ok(isFinal(s), s);
    assert.ok(FINAL_STATES.includes(s), s);
  }
  for (const s of ["connecting", "ringing", "answered"]) assert.ok(!isFinal(s), s);
});

test("each key's DTMF pair is the standard one (ITU-T Q.23)", () => {
  assert.deepEqual(dtmfPair("1"), [697, 1209]);
  assert.deepEqual(dtmfPair("5"), [770, 1336]);
  assert.deepEqual(dtmfPair("9"), [852, 1477]);
  assert.deepEqual(dtmfPair("*"), [941, 1209]);
  assert.deepEqual(dtmfPair("0"), [941, 1336]);
  assert.deepEqual(dtmfPair("#"), [941, 1477]);
  assert.equal(dtmfPair("x"), null);
  assert.equal(dtmfPair("12"), null);
});

test("typed keys: digits, * and #, not with a modifier, not repeats", () => {
  assert.equal(typedKey({ key: "7" }), "7");
  assert.equal(typedKey({ key: "#" }), "#");
  assert.equal(typedKey({ key: "a" }), "");
  assert.equal(typedKey({ key: "Enter" }), "");
  assert.equal(typedKey({ key: "1", ctrlKey: true }), "");
  assert.equal(typedKey({ key: "1", repeat: true }), "");
});

test("the key queue sends in order, one at a time, and drops the rest after a refusal", async () => {
  const sent = [];
  const errors = [];
  let release;
  let inFlight = 0;
  let most = 0;
  const q = new DtmfQueue(
    async (k) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => (release = r));
      inFlight--;
      if (k === "9") throw Object.assign(new Error("refused"), { code: "conflict" });
      sent.push(k);
    },
    { change: () => {}, error: (e) => errors.push(e.code) },
  );
  q.push("1");
  q.push("2");
  q.push("#");
  assert.equal(q.pending(), "12#");
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    release();
  }
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, ["1", "2", "#"]);
  assert.equal(q.sent(), "12#");
  assert.equal(most, 1, "one key on its way at a time");

  q.push("9");
  q.push("4");
  await new Promise((r) => setImmediate(r));
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ["conflict"]);
  assert.equal(q.pending(), "", "the keys behind a refused one are dropped");
  assert.equal(q.sent(), "12#");

  q.stop();
  q.push("5");
  assert.equal(q.pending(), "", "a stopped queue takes no keys");
});

test("dial-out chips: how each state looks", () => {
  assert.equal(dialOutTone("calling"), "progress");
  assert.equal(dialOutTone("ringing"), "progress");
  assert.equal(dialOutTone("answered"), "ok");
  for (const s of ["busy", "declined", "no_answer"]) assert.equal(dialOutTone(s), "warn", s);
  for (const s of ["unavailable", "unknown_number", "failed", "lost"]) assert.equal(dialOutTone(s), "bad", s);
});

test("the dial-out directory matches every typed word in number, name or department", () => {
  const e = { number: "1003", name: "三楼会议室 Room 3", department: "行政 Admin" };
  assert.ok(matchEntry(e, ""));
  assert.ok(matchEntry(e, "room 3"));
  assert.ok(matchEntry(e, "1003"));
  assert.ok(matchEntry(e, "行政"));
  assert.ok(matchEntry(e, "ROOM admin"));
  assert.ok(!matchEntry(e, "room 4"));
  assert.ok(!matchEntry(e, "1004"));
});
