// Unit tests of the Cameras page's pure functions (views/cameras-model.js)
// and the live view's retry waits (camera-rtc.js), run with Node's test
// runner by e2e/jsunit_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const m = await import(new URL("views/cameras-model.js", static_).href);
const { watchBackoff, WATCH_BACKOFF_MS } = await import(new URL("camera-rtc.js", static_).href);

const camera = (id, more = {}) => ({
  id,
  name: `Cam ${id}`,
  rtsp_url: `rtsp://127.0.0.1:8554/${id}`,
  has_password: false,
  transport: "tcp",
  profiles: [],
  enabled: true,
  created_at: "2026-03-02T09:00:00Z",
  updated_at: "2026-03-02T09:00:00Z",
  ...more,
});
const status = (id, state = "online", more = {}) => ({ id, name: `Cam ${id}`, state, fps: 15, bitrate_kbps: 800, live_view: true, viewers: 0, streaming: true, ...more });

test("a camera's state: switched off wins, then the live state, unknown before civicd judged it", () => {
  const cases = [
    [camera("a"), status("a", "online"), "online"],
    [camera("a"), status("a", "degraded"), "degraded"],
    [camera("a"), status("a", "offline"), "offline"],
    [camera("a"), status("a", "disabled"), "disabled"],
    [camera("a", { enabled: false }), status("a", "online"), "disabled"],
    [camera("a", { enabled: false }), undefined, "disabled"],
    [camera("a"), undefined, "unknown"],
    [undefined, status("a", "offline"), "offline"],
    [undefined, undefined, "unknown"],
    [camera("a"), status("a", "exploded"), "unknown"],
    [camera("a"), status("a", ""), "unknown"],
  ];
  for (const [c, st, want] of cases) assert.equal(m.cameraState(c, st), want, JSON.stringify({ c: c?.enabled, st: st?.state }));
  for (const s of m.CAMERA_STATES) assert.equal(m.cameraState(camera("a"), status("a", s)), s);
});

test("the list fills the state and forgets motion of cameras that are gone", () => {
  const s = m.emptyCameras();
  s.cameras.set("old", camera("old"));
  s.motion.add("old");
  s.motion.add("a");
  m.applyCamerasList(s, { cameras: [camera("a"), camera("b"), { name: "no id" }], status: [status("a"), null, status("b", "offline")] });
  assert.deepEqual([...s.cameras.keys()], ["a", "b"]);
  assert.deepEqual([...s.status.keys()], ["a", "b"]);
  assert.deepEqual([...s.motion], ["a"]);
  m.applyCamerasList(s, null);
  assert.equal(s.cameras.size, 0);
  assert.equal(s.status.size, 0);
  assert.equal(s.motion.size, 0);
  m.applyCamerasList(s, { cameras: "not a list", status: 7 });
  assert.equal(s.cameras.size, 0);
});

test("camera events: changes carry the live state; a new or renamed camera asks for the settings again", () => {
  const s = m.emptyCameras();
  assert.deepEqual(m.applyCameraEvent(s, { kind: "snapshot", data: { cameras: [camera("a")], status: [status("a", "unknown")] } }), { id: "*", reload: false });
  assert.equal(s.status.get("a").state, "unknown");

  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_changed", data: { camera: status("a", "online") } }), { id: "a", reload: false });
  assert.equal(s.status.get("a").state, "online");
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_changed", data: { camera: status("a", "online", { name: "Lobby" }) } }), { id: "a", reload: true }, "renamed elsewhere");
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_changed", data: { camera: status("b", "unknown") } }), { id: "b", reload: true }, "added elsewhere");
  assert.equal(s.status.get("b").state, "unknown");
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_changed", data: {} }), { id: "", reload: false });

  s.cameras.set("b", camera("b"));
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_health", data: { cameras: [status("a", "degraded"), status("b", "offline"), { name: "no id" }] } }), { id: "*", reload: false });
  assert.equal(s.status.get("a").state, "degraded");
  assert.equal(s.status.get("b").state, "offline");
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_health", data: { cameras: [status("c")] } }), { id: "*", reload: true }, "health of a camera not loaded yet");
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_health", data: {} }), { id: "*", reload: false });

  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_motion", data: { camera: { id: "a" }, active: true } }), { id: "a", reload: false });
  assert.ok(s.motion.has("a"));
  m.applyCameraEvent(s, { kind: "building.camera_motion", data: { camera: { id: "a" }, active: false } });
  assert.ok(!s.motion.has("a"));
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_motion", data: { active: true } }), { id: "", reload: false });

  s.motion.add("b");
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_removed", data: { camera: { id: "b", name: "Cam b" } } }), { id: "b", reload: false });
  assert.ok(!s.cameras.has("b") && !s.status.has("b") && !s.motion.has("b"));
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_removed", data: {} }), { id: "", reload: false });

  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.something_else", data: { camera: status("a") } }), { id: "", reload: false });
  assert.deepEqual(m.applyCameraEvent(s, { kind: "building.camera_changed" }), { id: "", reload: false }, "no data at all");
});

test("reasons: known ones have a dictionary key, others none", () => {
  for (const [reason, part] of Object.entries(m.CAMERA_REASONS)) assert.equal(m.reasonKey(reason), `cam.reason.${part}`);
  assert.equal(m.reasonKey("auth failed"), "cam.reason.auth");
  assert.equal(m.reasonKey("codec not supported for live view"), "cam.reason.codec");
  assert.equal(m.reasonKey("the moon is in the way"), "");
  assert.equal(m.reasonKey(""), "");
  assert.equal(m.reasonKey(undefined), "");
});

test("cameras sort as people read names, then by id", () => {
  const list = [
    { id: "c", name: "Cam 10" },
    { id: "b", name: "Cam 9" },
    { id: "z", name: "Alpha" },
    { id: "a", name: "Cam 9" },
  ];
  assert.deepEqual(list.sort(m.byCameraName).map((c) => c.id), ["z", "a", "b", "c"]);
});

test("figures in words: resolution, frame rate, bit rate", () => {
  assert.equal(m.resolutionText(1920, 1080), "1920×1080");
  assert.equal(m.resolutionText(0, 1080), "—");
  assert.equal(m.resolutionText(undefined, undefined), "—");
  assert.equal(m.fpsText(15), "15.0");
  assert.equal(m.fpsText(12.345), "12.3");
  assert.equal(m.fpsText(120), "120");
  assert.equal(m.fpsText(0), "—");
  assert.equal(m.fpsText(-3), "—");
  assert.equal(m.fpsText(undefined), "—");
  assert.equal(m.bitrateText(850), "850 kbit/s");
  assert.equal(m.bitrateText(849.6), "850 kbit/s");
  assert.equal(m.bitrateText(2400), "2.4 Mbit/s");
  assert.equal(m.bitrateText(12000), "12 Mbit/s");
  assert.equal(m.bitrateText(0), "—");
  assert.equal(m.bitrateText(undefined), "—");
});

test("snapshot addresses escape the id and bust the cache when asked", () => {
  assert.equal(m.snapshotURL("lobby"), "/api/cameras/lobby/snapshot");
  assert.equal(m.snapshotURL("a b/c"), "/api/cameras/a%20b%2Fc/snapshot");
  assert.equal(m.snapshotURL("lobby", 1234), "/api/cameras/lobby/snapshot?t=1234");
  assert.equal(m.snapshotURL("lobby", 0), "/api/cameras/lobby/snapshot");
});

test("the page's tab follows the location hash", () => {
  const cases = [
    ["#/cameras", "list"],
    ["#/cameras/", "list"],
    ["#/cameras/live", "live"],
    ["#/cameras/live/", "live"],
    ["#/cameras/live?layout=4", "live"],
    ["#/cameras/lively", "list"],
    ["#/building/live", "list"],
    ["", "list"],
  ];
  for (const [hash, want] of cases) assert.equal(m.camerasTab(hash), want, hash);
});

test("ids: the pattern civicd takes, and suggestions from a name", () => {
  for (const ok of ["lobby", "cam-1", "a", "0_x", "a".repeat(64)]) assert.ok(m.CAMERA_ID_RE.test(ok), ok);
  for (const bad of ["", "Lobby", "-a", "_a", "a b", "a/b", "a".repeat(65), "大厅"]) assert.ok(!m.CAMERA_ID_RE.test(bad), bad);

  assert.equal(m.suggestID("Lobby East", []), "lobby-east");
  assert.equal(m.suggestID("  Lobby -- East!  ", []), "lobby-east");
  assert.equal(m.suggestID("Lobby East", ["lobby-east"]), "lobby-east-1");
  assert.equal(m.suggestID("Lobby East", new Set(["lobby-east", "lobby-east-1"])), "lobby-east-2");
  assert.equal(m.suggestID("Café", []), "cafe", "accents fold to letters");
  assert.equal(m.suggestID("大厅 Lobby", []), "lobby");
  assert.equal(m.suggestID("大厅", []), "cam-1", "no Latin letters: cam-N");
  assert.equal(m.suggestID("大厅", ["cam-1"]), "cam-2");
  assert.equal(m.suggestID("123", []), "cam-1", "digits alone are no name");
  assert.equal(m.suggestID("", ["cam-1", "cam-2"]), "cam-3");
  const long = m.suggestID("x".repeat(100), []);
  assert.equal(long.length, 48);
  for (const name of ["Lobby East", "大厅", "Café", "x".repeat(100)]) assert.ok(m.CAMERA_ID_RE.test(m.suggestID(name, [])), name);
});

/** @returns {any} the editor's fields for a camera added by RTSP URL. */
const fields = (more = {}) => ({
  mode: "rtsp",
  id: " lobby ",
  name: " Lobby ",
  rtspURL: " rtsp://127.0.0.1:8554/cam ",
  onvifURL: "",
  username: " viewer ",
  password: "",
  transport: "tcp",
  profile: "",
  enabled: true,
  ...more,
});

test("the editor's fields become the camera to send, trimmed, without an unchanged password", () => {
  assert.deepEqual(m.cameraInput(fields(), null), {
    input: { id: "lobby", name: "Lobby", rtsp_url: "rtsp://127.0.0.1:8554/cam", onvif_url: "", username: "viewer", transport: "tcp", profile: "", enabled: true },
  });
  const withPassword = m.cameraInput(fields({ password: " secret " }), null);
  assert.equal(withPassword.input.password, " secret ", "a password is sent as typed");
  assert.equal(m.cameraInput(fields({ enabled: false, transport: "auto" }), null).input.enabled, false);
  assert.equal(m.cameraInput(fields({ rtspURL: "RTSP://cam.local/x" }), null).input.rtsp_url, "RTSP://cam.local/x");
});

test("the editor names the field that is wrong", () => {
  const cases = [
    [{ id: "Bad ID" }, "cam.ed.bad_id", "id"],
    [{ id: "" }, "cam.ed.bad_id", "id"],
    [{ name: "   " }, "cam.ed.bad_name", "name"],
    [{ name: "n".repeat(101) }, "cam.ed.bad_name", "name"],
    [{ transport: "carrier-pigeon" }, "cam.ed.bad_transport", "transport"],
    [{ rtspURL: "http://127.0.0.1/cam" }, "cam.ed.bad_rtsp", "rtsp"],
    [{ rtspURL: "rtsp://" }, "cam.ed.bad_rtsp", "rtsp"],
    [{ mode: "onvif", onvifURL: "rtsp://127.0.0.1/onvif" }, "cam.ed.bad_onvif", "onvif"],
    [{ mode: "onvif", onvifURL: "" }, "cam.ed.bad_onvif", "onvif"],
  ];
  for (const [more, problem, field] of cases) assert.deepEqual(m.cameraInput(fields(more), null), { problem, field }, JSON.stringify(more));
  assert.equal(m.cameraInput(fields({ name: "n".repeat(100) }), null).input.name.length, 100);
});

test("an ONVIF camera is probed when new and keeps its stream address when edited", () => {
  const v = fields({ mode: "onvif", onvifURL: " http://127.0.0.1:8080/onvif/device_service ", rtspURL: "rtsp://ignored/", profile: "main" });
  assert.deepEqual(m.cameraInput(v, null).input, {
    id: "lobby",
    name: "Lobby",
    rtsp_url: "",
    onvif_url: "http://127.0.0.1:8080/onvif/device_service",
    username: "viewer",
    transport: "tcp",
    profile: "main",
    enabled: true,
  });
  const old = camera("lobby", { onvif_url: "http://127.0.0.1:8080/onvif/device_service", rtsp_url: "rtsp://127.0.0.1:554/main" });
  assert.equal(m.cameraInput(v, old).input.rtsp_url, "rtsp://127.0.0.1:554/main");
  assert.equal(m.cameraInput(v, camera("lobby")).input.rtsp_url, "", "a camera added by RTSP URL that becomes ONVIF is probed");
});

test("profiles: the picker's label and the one the editor starts with", () => {
  const main = { token: "t1", name: "Main", encoding: "H265", width: 2560, height: 1440, fps: 25, bitrate_kbps: 12000, stream_uri: "rtsp://x/1" };
  const sub = { token: "t2", name: "", encoding: "H.264", width: 640, height: 360, stream_uri: "rtsp://x/2" };
  const mjpeg = { token: "t3", name: "Snap", encoding: "", width: 0, height: 0, bitrate_kbps: 4096, stream_uri: "rtsp://x/3" };
  assert.equal(m.profileLabel(main), "Main · H265 · 2560×1440 · 25 fps · 12 Mbit/s");
  assert.equal(m.profileLabel(sub), "t2 · H.264 · 640×360");
  assert.equal(m.profileLabel(mjpeg), "Snap · ? · — · 4.1 Mbit/s");

  assert.equal(m.pickProfile([main, sub], "t1"), "t1", "the one in use");
  assert.equal(m.pickProfile([main, sub], "gone"), "t2", "else the first H.264");
  assert.equal(m.pickProfile([main, sub]), "t2");
  assert.equal(m.pickProfile([main, mjpeg]), "t1", "else the first");
  assert.equal(m.pickProfile([]), "");
});

test("a camera's clock is skewed beyond 5 seconds either way", () => {
  assert.equal(m.clockSkewed(0), false);
  assert.equal(m.clockSkewed(5000), false);
  assert.equal(m.clockSkewed(-5000), false);
  assert.equal(m.clockSkewed(5001), true);
  assert.equal(m.clockSkewed(-60000), true);
});

test("the grid's saved setup is read defensively", () => {
  assert.deepEqual(m.readGrid(null), { layout: 4, tiles: [] });
  assert.deepEqual(m.readGrid(""), { layout: 4, tiles: [] });
  assert.deepEqual(m.readGrid("{not json"), { layout: 4, tiles: [] });
  assert.deepEqual(m.readGrid("null"), { layout: 4, tiles: [] });
  assert.deepEqual(m.readGrid(JSON.stringify({ layout: 9, tiles: ["a", "BAD", 3, "b", null] })), { layout: 9, tiles: ["a", "", "", "b", ""] });
  assert.deepEqual(m.readGrid(JSON.stringify({ layout: 5, tiles: "a" })), { layout: 4, tiles: [] }, "a layout the grid lacks");
  assert.equal(m.readGrid(JSON.stringify({ layout: 1, tiles: Array(20).fill("a") })).tiles.length, 9);
  for (const l of m.GRID_LAYOUTS) assert.equal(m.readGrid(JSON.stringify({ layout: l })).layout, l);
});

test("a new grid fills its tiles with the cameras in order, unless some are set", () => {
  assert.deepEqual(m.fillGrid([], 4, ["a", "b", "c", "d", "e"]), ["a", "b", "c", "d"]);
  assert.deepEqual(m.fillGrid(["", ""], 4, ["a", "b"]), ["a", "b", "", ""]);
  assert.deepEqual(m.fillGrid(["", "x"], 4, ["a", "b"]), ["", "x", "", ""], "a tile already set keeps the layout as chosen");
  assert.deepEqual(m.fillGrid(["a", "b", "c", "d"], 1, ["e"]), ["a"]);
  assert.deepEqual(m.fillGrid([], 1, []), [""]);
  assert.deepEqual(m.fillGrid([], 9, ["a"]), ["a", "", "", "", "", "", "", "", ""]);
});

test("a bigger grid fills only its new tiles, with cameras not shown yet", () => {
  assert.deepEqual(m.growGrid(["a", "b", "c", "d"], 4, 9, ["a", "b", "c", "d", "e", "f"]), ["a", "b", "c", "d", "e", "f", "", "", ""]);
  assert.deepEqual(m.growGrid(["b"], 1, 4, ["a", "b", "c"]), ["b", "a", "c", ""], "the camera already shown is skipped");
  assert.deepEqual(m.growGrid(["a", "", "", "", "z"], 1, 4, ["a", "b", "c"]), ["a", "b", "c", "", "z"], "tiles past the layout are kept for later");
  assert.deepEqual(m.growGrid(["a", "x", "", ""], 1, 4, ["a", "b"]), ["a", "x", "b", ""], "a tile set before stays");
  assert.deepEqual(m.growGrid(["a", "b", "c", "d"], 4, 4, ["e"]), ["a", "b", "c", "d"], "same size: nothing to fill");
  assert.deepEqual(m.growGrid([], 0, 4, []), ["", "", "", ""]);
  const tiles = ["a"];
  m.growGrid(tiles, 1, 4, ["b"]);
  assert.deepEqual(tiles, ["a"], "the input is not changed");
});

test("the live view waits 1, 2, 5, then 10 s between attempts", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 50].map(watchBackoff), [1000, 2000, 5000, 10000, 10000, 10000]);
  assert.equal(watchBackoff(-1), WATCH_BACKOFF_MS[0]);
});
