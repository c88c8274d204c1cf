// Unit tests of the Phones page's pure functions (views/phones.js and
// views/phone-editor.js), run with Node's test runner by
// e2e/jsunit_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";

// i18n.js sets <html lang>; give it the little DOM it touches.
globalThis.document ??= /** @type {any} */ ({ documentElement: { lang: "" } });

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const phonesModule = await import(new URL("views/phones.js", static_).href);
const { applyPhoneEvent, phoneState, lastSeen, extensionTags, byNumber } = phonesModule;
const { parseMembers, parseSeconds } = await import(new URL("views/phone-editor.js", static_).href);
const { I18n } = await import(new URL("i18n.js", static_).href);

const ext = (number, more = {}) => ({ number, name: `Desk ${number}`, dnd: false, ...more });
const binding = (more = {}) => ({ contact: "sip:1001@127.0.0.1:5062", transport: "udp", source: "127.0.0.1:5062", user_agent: "sipp", expires: "2026-03-02T10:00:00Z", last_seen: "2026-03-02T09:00:00Z", reachable: true, ...more });

test("phone events: a snapshot replaces, changes carry the whole phone, removal deletes", () => {
  const phones = new Map([["9999", { extension: ext("9999"), online: false, bindings: [] }]]);
  assert.equal(applyPhoneEvent(phones, { kind: "snapshot", data: { phones: [{ extension: ext("1001"), online: false, bindings: [] }, { extension: ext("1002"), online: false, bindings: [] }] } }), "");
  assert.deepEqual([...phones.keys()], ["1001", "1002"]);

  assert.equal(applyPhoneEvent(phones, { kind: "voip.phone_online", data: { phone: { extension: ext("1001"), online: true, bindings: [binding()] } } }), "1001");
  assert.equal(phones.get("1001").online, true);
  assert.equal(applyPhoneEvent(phones, { kind: "voip.phone_offline", data: { phone: { extension: ext("1001"), online: false, bindings: null } } }), "1001");
  assert.deepEqual(phones.get("1001").bindings, [], "null bindings become []");
  assert.equal(applyPhoneEvent(phones, { kind: "voip.phone_changed", data: { phone: { extension: ext("1003"), online: false, bindings: [] } } }), "1003");
  assert.equal(phones.size, 3, "a changed phone not seen before is added");
  assert.equal(applyPhoneEvent(phones, { kind: "voip.phone_removed", data: { phone: { extension: ext("1002"), online: false, bindings: [] } } }), "1002");
  assert.deepEqual([...phones.keys()].sort(), ["1001", "1003"]);
  assert.equal(applyPhoneEvent(phones, { kind: "voip.phone_online", data: {} }), "", "an event without a phone changes nothing");
  assert.equal(phones.size, 2);
});

test("a phone's state: offline, online, or unreachable when no device answers", () => {
  const cases = [
    { p: { online: false, bindings: [] }, want: "offline" },
    { p: { online: true, bindings: [binding()] }, want: "online" },
    { p: { online: true, bindings: [binding({ reachable: false }), binding()] }, want: "online" },
    { p: { online: false, bindings: [binding({ reachable: false })] }, want: "unreachable" },
    { p: { online: true, bindings: [] }, want: "online" },
  ];
  for (const { p, want } of cases) assert.equal(phoneState({ extension: ext("1"), ...p }), want, JSON.stringify(p));
});

test("last seen is the newest of the devices", () => {
  assert.equal(lastSeen({ bindings: [] }), "");
  assert.equal(lastSeen({ bindings: [binding({ last_seen: "2026-03-02T09:00:00Z" }), binding({ last_seen: "2026-03-02T09:05:00+08:00" }), binding({ last_seen: "2026-03-02T09:30:00Z" })] }), "2026-03-02T09:30:00Z");
});

test("tags: do not disturb and each kind of forwarding, in both languages", () => {
  assert.deepEqual(extensionTags(ext("1001")), []);
  const tags = extensionTags(ext("1001", { dnd: true, forward_always: "1002", forward_busy: "1003", forward_no_answer: "600", no_answer_seconds: 20 }));
  assert.deepEqual(tags.map((t) => t.key), ["phones.tag.dnd", "phones.tag.fwd_always", "phones.tag.fwd_busy", "phones.tag.fwd_no_answer"]);
  assert.equal(tags[0].kind, "warn");
  const en = new I18n({ languages: ["en"] });
  const zh = new I18n({ languages: ["zh-CN"] });
  assert.equal(en.t(tags[3].key, tags[3].vars), "No answer in 20 s → 600");
  assert.equal(zh.t(tags[3].key, tags[3].vars), "20 秒无应答转移至 600");
  const noSecs = extensionTags(ext("1001", { forward_no_answer: "600" }));
  assert.equal(en.t(noSecs[0].key, noSecs[0].vars), "No answer → 600");
});

test("numbers sort as people read them", () => {
  assert.deepEqual(["1001", "99", "200", "1000"].sort(byNumber), ["99", "200", "1000", "1001"]);
});

test("ring group members: commas, spaces, Chinese commas; each once", () => {
  const cases = [
    { in: "1001, 1002,1003", want: ["1001", "1002", "1003"] },
    { in: " 1001 1002 ", want: ["1001", "1002"] },
    { in: "1001，1002、1003；1004", want: ["1001", "1002", "1003", "1004"] },
    { in: "1001, 1001", want: ["1001"] },
    { in: " , ", want: [] },
  ];
  for (const c of cases) assert.deepEqual(parseMembers(c.in), c.want, c.in);
});

test("seconds: empty is 0, whole numbers only", () => {
  const cases = [
    { in: "", want: 0 },
    { in: " 20 ", want: 20 },
    { in: "2.5", want: null },
    { in: "-1", want: null },
    { in: "abc", want: null },
    { in: "99999", want: null },
  ];
  for (const c of cases) assert.equal(parseSeconds(c.in), c.want, c.in);
});

test("contacts show without the scheme and parameters", () => {
  const { contactText } = phonesModule;
  const cases = [
    { in: "sip:1001@192.168.10.21:5060;transport=udp", want: "1001@192.168.10.21:5060" },
    { in: "<sips:1001@[2001:db8::1]:5061;ob>", want: "1001@[2001:db8::1]:5061" },
    { in: "sip:1001@127.0.0.1:5062", want: "1001@127.0.0.1:5062" },
  ];
  for (const c of cases) assert.equal(contactText(c.in), c.want, c.in);
});
