// Unit tests of the console's browser modules, run with Node's test runner
// by e2e/jsunit_test.go. The websocket client is driven against a fake
// WebSocket and fake timers; the views' pure functions are tested directly.

import { test, mock } from "node:test";
import assert from "node:assert/strict";

// i18n.js sets <html lang>; give it the little DOM it touches.
globalThis.document = /** @type {any} */ ({ documentElement: { lang: "" } });

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const { ConsoleClient, backoffDelay, wsURL, BACKOFF_MAX_MS } = await import(new URL("ws.js", static_).href);
const { I18n, dictionaryKeys, matchLang } = await import(new URL("i18n.js", static_).href);
const { ERROR_CODES, CLOSE_CODES } = await import(new URL("protocol.js", static_).href);
const { errorText, formatDuration } = await import(new URL("ui.js", static_).href);
const { applyUserEvent } = await import(new URL("views/users.js", static_).href);
const { matchesFilter } = await import(new URL("views/audit.js", static_).href);
const { loginErrorText } = await import(new URL("views/login.js", static_).href);

/** FakeSocket records what the client sends and lets a test play the server. */
class FakeSocket {
  /** @type {FakeSocket[]} */
  static all = [];
  constructor(url) {
    this.url = url;
    /** @type {any[]} */
    this.sent = [];
    this.closed = false;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    FakeSocket.all.push(this);
  }
  send(s) {
    this.sent.push(JSON.parse(s));
  }
  close() {
    this.closed = true;
  }
  /** serverSends delivers one message to the client. */
  serverSends(msg) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  /** serverCloses ends the connection with a close code. */
  serverCloses(code) {
    this.closed = true;
    this.onclose?.({ code });
  }
  last() {
    return this.sent[this.sent.length - 1];
  }
  static latest() {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
}

/** newClient makes a client on fresh fakes; random 0.5 gives exact backoffs. */
function newClient(t) {
  FakeSocket.all = [];
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  const c = new ConsoleClient({ url: "wss://x/api/ws", WebSocketImpl: FakeSocket, random: () => 0.5 });
  /** @type {string[]} */
  const states = [];
  c.onState((s) => states.push(s));
  /** @type {any[]} */
  const auths = [];
  c.onAuth((a) => auths.push(a));
  return { c, states, auths };
}

/** handshake plays auth_required / auth_ok on the latest socket. */
function handshake(ws) {
  ws.serverSends({ type: "auth_required" });
  assert.deepEqual(ws.last(), { type: "auth" });
  ws.serverSends({ type: "auth_ok", user: { id: 1, username: "admin", role: "admin" }, role: "admin", version: "t" });
}

test("backoff doubles from 0.5 s to 30 s with jitter", () => {
  const cases = [
    { attempt: 0, random: 0.5, want: 500 },
    { attempt: 1, random: 0.5, want: 1000 },
    { attempt: 5, random: 0.5, want: 16000 },
    { attempt: 6, random: 0.5, want: 30000 },
    { attempt: 40, random: 0.99, want: 30000 },
    { attempt: 0, random: 0, want: 375 },
    { attempt: 2, random: 0.99, want: 2490 },
  ];
  for (const { attempt, random, want } of cases) {
    assert.equal(backoffDelay(attempt, () => random), want, `attempt ${attempt} random ${random}`);
  }
  for (let i = 0; i < 50; i++) assert.ok(backoffDelay(i) <= BACKOFF_MAX_MS);
});

test("wsURL follows the page's scheme", () => {
  assert.equal(wsURL({ protocol: "https:", host: "h:8443" }), "wss://h:8443/api/ws");
  assert.equal(wsURL({ protocol: "http:", host: "localhost:1" }), "ws://localhost:1/api/ws");
});

test("auth with the cookie, then requests with increasing ids", async (t) => {
  const { c, states, auths } = newClient(t);
  c.start();
  const ws = FakeSocket.latest();
  assert.equal(ws.url, "wss://x/api/ws");
  assert.equal(c.state, "connecting");
  handshake(ws);
  assert.equal(c.state, "online");
  assert.equal(auths.length, 1);
  assert.equal(auths[0].ok, true);
  assert.equal(auths[0].role, "admin");

  const p1 = c.request("users.list");
  const p2 = c.request("users.create", { username: "bob", role: "official" });
  assert.deepEqual(ws.sent.slice(1), [
    { id: 1, type: "users.list" },
    { id: 2, type: "users.create", username: "bob", role: "official" },
  ]);
  ws.serverSends({ id: 2, type: "result", success: false, error: { code: "conflict", message: "that username is taken" } });
  ws.serverSends({ id: 1, type: "result", success: true, result: { users: [] } });
  assert.deepEqual(await p1, { users: [] });
  await assert.rejects(p2, (err) => err.code === ERROR_CODES.CONFLICT && err.message === "that username is taken");
  assert.deepEqual(states, ["offline", "connecting", "online"]);
});

test("reconnect after 1001 re-subscribes and restarts ids", async (t) => {
  const { c, states } = newClient(t);
  c.start();
  handshake(FakeSocket.latest());
  /** @type {any[]} */
  const events = [];
  const unsubscribe = c.subscribe(["users"], (ev) => events.push(ev));
  const ws1 = FakeSocket.latest();
  assert.deepEqual(ws1.last(), { id: 1, type: "subscribe", topics: ["users"] });
  ws1.serverSends({ id: 1, type: "result", success: true, result: { topics: ["users"] } });
  ws1.serverSends({ id: 1, type: "event", event: { topic: "users", kind: "snapshot", data: { users: [] } } });
  const inflight = c.request("users.list");

  ws1.serverCloses(CLOSE_CODES.GOING_AWAY);
  assert.equal(c.state, "reconnecting");
  await assert.rejects(inflight, (err) => err.code === "disconnected");
  assert.equal(FakeSocket.all.length, 1, "no reconnect before the backoff");
  t.mock.timers.tick(499);
  assert.equal(FakeSocket.all.length, 1);
  t.mock.timers.tick(1);
  assert.equal(FakeSocket.all.length, 2, "reconnects after 0.5 s");

  // A request made while reconnecting waits for the connection.
  const queued = c.request("whoami");
  const ws2 = FakeSocket.latest();
  handshake(ws2);
  assert.deepEqual(ws2.sent.slice(1), [
    { id: 1, type: "subscribe", topics: ["users"] },
    { id: 2, type: "whoami" },
  ]);
  ws2.serverSends({ id: 2, type: "result", success: true, result: { role: "admin" } });
  assert.deepEqual(await queued, { role: "admin" });
  ws2.serverSends({ id: 1, type: "event", event: { topic: "users", kind: "user.created", data: { user: { id: 2 } } } });
  assert.deepEqual(events.map((e) => e.kind), ["snapshot", "user.created"]);
  assert.deepEqual(states, ["offline", "connecting", "online", "reconnecting", "online"]);

  unsubscribe();
  assert.deepEqual(ws2.last(), { id: 3, type: "unsubscribe", subscription: 1 });
  ws2.serverSends({ id: 1, type: "event", event: { topic: "users", kind: "user.deleted", data: {} } });
  assert.equal(events.length, 2, "no events after unsubscribe");
});

test("a view built on auth_ok subscribes once", (t) => {
  const { c } = newClient(t);
  /** @type {(() => void) | null} */
  let unsubscribeOld = null;
  c.onAuth(() => {
    // What the app does when the role changed: drop the old view, build a new one.
    unsubscribeOld?.();
    c.subscribe(["system"], () => {});
  });
  unsubscribeOld = c.subscribe(["users"], () => {});
  c.start();
  const ws = FakeSocket.latest();
  handshake(ws);
  const subs = ws.sent.filter((m) => m.type === "subscribe");
  assert.deepEqual(subs, [{ id: 1, type: "subscribe", topics: ["system"] }]);
});

test("backoff grows while the server stays away, and resets after auth", (t) => {
  const { c } = newClient(t);
  c.start();
  handshake(FakeSocket.latest());
  FakeSocket.latest().serverCloses(1006);
  for (const wait of [500, 1000, 2000, 4000]) {
    const n = FakeSocket.all.length;
    t.mock.timers.tick(wait - 1);
    assert.equal(FakeSocket.all.length, n, `still waiting before ${wait} ms`);
    t.mock.timers.tick(1);
    assert.equal(FakeSocket.all.length, n + 1, `retried after ${wait} ms`);
    FakeSocket.latest().serverCloses(1006);
  }
  t.mock.timers.tick(8000);
  handshake(FakeSocket.latest());
  assert.equal(c.state, "online");
  FakeSocket.latest().serverCloses(1001);
  const n = FakeSocket.all.length;
  t.mock.timers.tick(500);
  assert.equal(FakeSocket.all.length, n + 1, "back to 0.5 s after a good connection");
});

test("auth_invalid stops reconnecting and reports the failure", (t) => {
  const { c, auths } = newClient(t);
  c.start();
  const ws = FakeSocket.latest();
  ws.serverSends({ type: "auth_required" });
  ws.serverSends({ type: "auth_invalid", message: "not signed in" });
  ws.serverCloses(CLOSE_CODES.POLICY);
  assert.equal(c.state, "offline");
  assert.deepEqual(auths, [{ ok: false, message: "not signed in" }]);
  t.mock.timers.tick(60000);
  assert.equal(FakeSocket.all.length, 1, "no reconnect without a session");
  // After a new login the app starts the client again.
  c.start();
  assert.equal(FakeSocket.all.length, 2);
});

test("1008 after auth re-checks the session by reconnecting", (t) => {
  const { c, auths } = newClient(t);
  c.start();
  handshake(FakeSocket.latest());
  FakeSocket.latest().serverCloses(CLOSE_CODES.POLICY);
  assert.equal(c.state, "reconnecting");
  t.mock.timers.tick(500);
  const ws = FakeSocket.latest();
  ws.serverSends({ type: "auth_required" });
  ws.serverSends({ type: "auth_invalid", message: "session expired" });
  assert.equal(c.state, "offline");
  assert.equal(auths.at(-1).ok, false);
});

test("a missing pong drops the connection and reconnects", (t) => {
  const { c } = newClient(t);
  c.start();
  const ws = FakeSocket.latest();
  handshake(ws);
  t.mock.timers.tick(25000);
  assert.deepEqual(ws.last(), { id: 1, type: "ping" });
  ws.serverSends({ id: 1, type: "pong" });
  t.mock.timers.tick(25000);
  assert.deepEqual(ws.last(), { id: 2, type: "ping" });
  t.mock.timers.tick(10000);
  assert.equal(c.state, "reconnecting");
  assert.ok(ws.closed);
  t.mock.timers.tick(500);
  assert.equal(FakeSocket.all.length, 2);
});

test("stop fails waiting requests and goes offline", async (t) => {
  const { c } = newClient(t);
  c.start();
  const waiting = c.request("whoami");
  c.stop();
  assert.equal(c.state, "offline");
  await assert.rejects(waiting, (err) => err.code === "closed");
  await assert.rejects(c.request("whoami"), (err) => err.code === "closed");
});

test("a request without an answer times out", async (t) => {
  const { c } = newClient(t);
  c.start();
  handshake(FakeSocket.latest());
  const p = c.request("users.list");
  t.mock.timers.tick(20000);
  await assert.rejects(p, (err) => err.code === "timeout");
});

test("both languages have the same keys", () => {
  const en = new Set(dictionaryKeys("en"));
  const zh = new Set(dictionaryKeys("zh-CN"));
  assert.deepEqual([...en].filter((k) => !zh.has(k)), [], "missing in zh-CN");
  assert.deepEqual([...zh].filter((k) => !en.has(k)), [], "missing in en");
  for (const code of Object.values(ERROR_CODES)) assert.ok(en.has(`err.${code}`), `no sentence for ${code}`);
});

test("language choice: stored, then browser, then English", () => {
  /** @param {Record<string,string>} init */
  const storage = (init) => ({ getItem: (k) => init[k] ?? null, setItem: (k, v) => (init[k] = v) });
  const cases = [
    { stored: {}, languages: ["zh-CN", "en"], want: "zh-CN" },
    { stored: {}, languages: ["de-DE", "en-GB"], want: "en" },
    { stored: {}, languages: ["zh-Hans"], want: "zh-CN" },
    { stored: {}, languages: ["fr"], want: "en" },
    { stored: { "civic.lang": "en" }, languages: ["zh-CN"], want: "en" },
    { stored: { "civic.lang": "xx" }, languages: ["zh-TW"], want: "zh-CN" },
  ];
  for (const { stored, languages, want } of cases) {
    const i = new I18n({ storage: storage({ ...stored }), languages });
    assert.equal(i.lang, want, JSON.stringify({ stored, languages }));
    assert.equal(document.documentElement.lang, want);
  }
  assert.equal(matchLang("EN-us"), "en");
  assert.equal(matchLang("ja"), null);
});

test("switching language notifies and remembers", () => {
  const store = {};
  const i = new I18n({ storage: { getItem: (k) => store[k] ?? null, setItem: (k, v) => (store[k] = v) }, languages: ["en"] });
  const seen = [];
  i.onChange((l) => seen.push(l));
  i.set("zh-CN");
  assert.deepEqual(seen, ["zh-CN"]);
  assert.equal(store["civic.lang"], "zh-CN");
  assert.equal(i.t("nav.system"), "系统");
  assert.equal(i.t("users.created", { username: "bob" }), "已创建用户 bob。");
  assert.equal(i.t("no.such.key"), "no.such.key");
});

test("errors are sentences, never bare codes", () => {
  const i = new I18n({ languages: ["en"] });
  for (const code of [...Object.values(ERROR_CODES), "disconnected", "timeout", "closed", "weird_new_code"]) {
    const s = errorText(i, { code, message: "detail here" });
    assert.notEqual(s, code);
    assert.ok(s.length > code.length + 10, `${code} -> ${s}`);
  }
  assert.match(errorText(i, { code: "invalid_params", message: "role must be one of admin" }), /role must be one of admin/);
});

test("login errors explain lockout in minutes", () => {
  const i = new I18n({ languages: ["en"] });
  const cases = [
    { status: 401, code: "auth_failed", retry: null, want: /username or password is wrong/ },
    { status: 429, code: "locked_out", retry: "600", want: /10 minutes/ },
    { status: 429, code: "locked_out", retry: "30", want: /1 minute\./ },
    { status: 429, code: "locked_out", retry: null, want: /try again later/i },
    { status: 413, code: "too_large", retry: null, want: /too large/ },
    { status: 502, code: "", retry: null, want: /HTTP 502/ },
  ];
  for (const { status, code, retry, want } of cases) assert.match(loginErrorText(i, status, code, retry), want);
  i.set("zh-CN", { remember: false });
  assert.match(loginErrorText(i, 429, "locked_out", "125"), /3 分钟后重试/);
});

test("uptime reads like a person would say it", () => {
  const i = new I18n({ languages: ["en"] });
  const cases = [
    [0, "0 s"],
    [59, "59 s"],
    [61, "1 min 1 s"],
    [3723, "1 h 2 min 3 s"],
    [90061, "1 d 1 h 1 min"],
  ];
  for (const [secs, want] of cases) assert.equal(formatDuration(i, secs), want);
});

test("users events: snapshot replaces, changes apply", () => {
  const users = new Map([[9, { id: 9, username: "stale" }]]);
  applyUserEvent(users, { kind: "snapshot", data: { users: [{ id: 1, username: "admin" }] } });
  assert.deepEqual([...users.keys()], [1]);
  applyUserEvent(users, { kind: "user.created", data: { user: { id: 2, username: "bob" } } });
  applyUserEvent(users, { kind: "user.updated", data: { user: { id: 2, username: "bob", disabled: true } } });
  assert.equal(users.get(2).disabled, true);
  applyUserEvent(users, { kind: "user.deleted", data: { user: { id: 1 } } });
  assert.deepEqual([...users.keys()], [2]);
});

test("live audit entries respect the filters", () => {
  const e = { id: 5, at: "2026-01-02T10:00:00Z", user: "admin", action: "users.create" };
  const cases = [
    { f: {}, want: true },
    { f: { user: "admin" }, want: true },
    { f: { user: "bob" }, want: false },
    { f: { action: "users." }, want: true },
    { f: { action: "auth." }, want: false },
    { f: { since: "2026-01-02T09:00:00Z" }, want: true },
    { f: { since: "2026-01-02T11:00:00Z" }, want: false },
    { f: { until: "2026-01-02T09:00:00Z" }, want: false },
  ];
  for (const { f, want } of cases) {
    assert.equal(matchesFilter(e, { user: "", action: "", since: "", until: "", ...f }), want, JSON.stringify(f));
  }
});

test("every dictionary key named in the sources exists", async () => {
  const { readFile, readdir } = await import("node:fs/promises");
  const keys = new Set(dictionaryKeys("en"));
  /** @type {string[]} */
  const files = [];
  for (const dir of ["", "views/"]) {
    for (const f of await readdir(new URL(dir, static_))) if (f.endsWith(".js")) files.push(dir + f);
  }
  assert.ok(files.length >= 10, `found ${files.length} modules`);
  const patterns = [
    /\b(?:i18n|i18nPlaceholder|i18nTitle|i18nAriaLabel|key|confirmKey|nav|title|notice)\s*:\s*"([a-z_]+\.[a-z_.]+)"/g,
    /\bt\(\s*"([a-z_]+\.[a-z_.]+)"/g,
    /showLogin\(\s*"([a-z_]+\.[a-z_.]+)"/g,
  ];
  let checked = 0;
  for (const f of files) {
    const src = await readFile(new URL(f, static_), "utf8");
    for (const re of patterns) {
      for (const m of src.matchAll(re)) {
        checked++;
        assert.ok(keys.has(m[1]), `${f}: unknown dictionary key ${m[1]}`);
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} keys checked`);
});
