// Unit tests of meeting-rtc.js, the browser side of a meeting, against
// fake peer connections and a fake console client: ICE restarts when the
// media path breaks, simulcast layers paused and resumed on civicd's word,
// and tile sizes reported for layer choice.

import { test, mock } from "node:test";
import assert from "node:assert/strict";

/** FakePC is the part of RTCPeerConnection that meeting-rtc.js uses. */
class FakePC {
  /** @type {FakePC[]} */
  static all = [];
  constructor() {
    this.iceConnectionState = "new";
    this.iceGatheringState = "complete";
    this.localDescription = null;
    /** @type {Record<string, Function[]>} */
    this.listeners = {};
    /** @type {any[]} */
    this.offers = [];
    /** @type {FakeSender[]} */
    this.senders = [];
    FakePC.all.push(this);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] ?? []).filter((f) => f !== fn);
  }
  /** setIce moves ICE to state and tells the listeners. */
  setIce(state) {
    this.iceConnectionState = state;
    for (const fn of this.listeners.iceconnectionstatechange ?? []) fn();
  }
  addTransceiver(track, init) {
    this.senders.push(new FakeSender(track, init?.sendEncodings ?? [{}]));
  }
  getSenders() {
    return this.senders;
  }
  async createOffer(opts) {
    this.offers.push(opts ?? {});
    return { type: "offer", sdp: "offer" };
  }
  async setLocalDescription(d) {
    this.localDescription = d;
  }
  async setRemoteDescription() {}
  async createAnswer() {
    return { type: "answer", sdp: "answer" };
  }
  close() {}
}

class FakeSender {
  constructor(track, encodings) {
    this.track = track;
    this.params = { encodings: encodings.map((e) => ({ ...e })) };
    /** @type {any[]} */
    this.set = [];
  }
  getParameters() {
    return structuredClone(this.params);
  }
  async setParameters(p) {
    this.params = p;
    this.set.push(p);
  }
}

/** FakeResizeObserver lets a test say an element's new size. */
class FakeResizeObserver {
  /** @type {FakeResizeObserver[]} */
  static all = [];
  constructor(cb) {
    this.cb = cb;
    this.els = new Set();
    FakeResizeObserver.all.push(this);
  }
  observe(el) {
    this.els.add(el);
  }
  unobserve(el) {
    this.els.delete(el);
  }
  resize(el, width, height) {
    this.cb([{ target: el, contentRect: { width, height } }]);
  }
}

globalThis.RTCPeerConnection = /** @type {any} */ (FakePC);
globalThis.ResizeObserver = /** @type {any} */ (FakeResizeObserver);
globalThis.window = /** @type {any} */ ({ devicePixelRatio: 2 });

const { MeetingConnection, CAMERA_LAYERS } = await import(new URL("../../../webui/static/js/meeting-rtc.js", import.meta.url).href);

/** fakeClient records requests and plays the server's join stream. */
function fakeClient() {
  /** @type {{type: string, params: any}[]} */
  const requests = [];
  /** @type {(ev: any) => void} */
  let onEvent = () => {};
  return {
    requests,
    /** event delivers a meeting event as civicd would. */
    event: (kind, data) => onEvent({ topic: "conference", kind, data }),
    stream(type, params, handler) {
      onEvent = handler;
      requests.push({ type, params });
      return { result: Promise.resolve({ participant_id: "me", ice_servers: [], participants: [] }), close() {} };
    },
    async request(type, params) {
      requests.push({ type, params });
      return type === "webrtc.offer" ? { sdp: "answer" } : {};
    },
  };
}

const camera = { kind: "video", id: "cam-1" };
const mic = { kind: "audio", id: "mic-1" };
const local = /** @type {any} */ ({ getTracks: () => [mic, camera] });

async function joined() {
  FakePC.all = [];
  const client = fakeClient();
  const conn = new MeetingConnection({ client: /** @type {any} */ (client), room: "123456", onEvent() {}, onTrack() {}, onLost() {} });
  await conn.join(local);
  const [sub, pub] = FakePC.all;
  return { client, conn, sub, pub };
}

/** flush lets pending promise callbacks run. */
const flush = () => new Promise((r) => setImmediate(r));

test("the camera is published in three simulcast layers, lowest first", async () => {
  const { pub } = await joined();
  const cam = pub.senders.find((s) => s.track.kind === "video");
  assert.deepEqual(
    cam.params.encodings.map((e) => e.rid),
    CAMERA_LAYERS.map((l) => l.rid),
  );
  const audio = pub.senders.find((s) => s.track.kind === "audio");
  assert.equal(audio.params.encodings.length, 1, "audio is not simulcast");
});

test("ICE failing restarts ICE on both connections", async () => {
  const { client, pub } = await joined();
  client.requests.length = 0;
  pub.setIce("failed");
  await flush();
  await flush();
  assert.deepEqual(pub.offers.at(-1), { iceRestart: true });
  assert.deepEqual(
    client.requests.map((r) => r.type),
    ["webrtc.offer", "webrtc.restart"],
  );
});

test("a short disconnection heals by itself; a long one restarts ICE", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const { client, sub } = await joined();
    client.requests.length = 0;
    sub.setIce("disconnected");
    mock.timers.tick(1000);
    sub.setIce("connected");
    mock.timers.tick(20000);
    await flush();
    assert.equal(client.requests.length, 0, "restarted after a blip");

    sub.setIce("disconnected");
    mock.timers.tick(2900);
    await flush();
    assert.equal(client.requests.length, 0, "restarted before the grace period");
    mock.timers.tick(200);
    await flush();
    await flush();
    assert.ok(
      client.requests.some((r) => r.type === "webrtc.restart"),
      "no restart after 3 s disconnected",
    );
  } finally {
    mock.timers.reset();
  }
});

test("publish.layers pauses the layers nobody takes, and resumes them", async () => {
  const { client, pub } = await joined();
  const cam = pub.senders.find((s) => s.track.kind === "video");
  client.event("publish.layers", { track_id: "cam-1", active: ["q"] });
  await flush();
  assert.deepEqual(
    cam.params.encodings.map((e) => [e.rid, e.active]),
    [
      ["q", true],
      ["h", false],
      ["f", false],
    ],
  );
  client.event("publish.layers", { track_id: "cam-1", active: ["q", "h", "f"] });
  await flush();
  assert.ok(cam.params.encodings.every((e) => e.active));
  const sets = cam.set.length;
  client.event("publish.layers", { track_id: "cam-1", active: ["q", "h", "f"] });
  await flush();
  assert.equal(cam.set.length, sets, "setParameters with nothing to change");
  client.event("publish.layers", { track_id: "someone-else", active: [] });
  await flush();
  assert.equal(cam.set.length, sets, "another track's layers touched this one");
});

test("tile sizes are reported in device pixels, once they settle, and only when they change", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const { client, conn } = await joined();
    client.requests.length = 0;
    const video = /** @type {any} */ ({});
    conn.watch(video, "peer-1");
    const ro = FakeResizeObserver.all.at(-1);
    ro.resize(video, 100, 50);
    ro.resize(video, 320, 180);
    mock.timers.tick(300);
    assert.deepEqual(client.requests, [{ type: "conference.view", params: { views: [{ stream: "peer-1", width: 640, height: 360 }] } }]);
    ro.resize(video, 320, 180);
    mock.timers.tick(300);
    assert.equal(client.requests.length, 1, "the same size reported again");
    ro.resize(video, 0, 0);
    mock.timers.tick(300);
    assert.deepEqual(client.requests.at(-1).params.views, [{ stream: "peer-1", width: 0, height: 0 }]);
    conn.unwatch(video);
    assert.ok(!ro.els.has(video));
  } finally {
    mock.timers.reset();
  }
});
