// Unit tests of the Building page's camera parts: the cameras on the floor
// plan (views/building-plan-cameras.js), the door detail's camera
// (building-door.js) and the door editor's camera choices
// (building-setup.js), run with Node's test runner by e2e/jsunit_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";

// i18n.js sets <html lang>; give it the little DOM it touches.
globalThis.document ??= /** @type {any} */ ({ documentElement: { lang: "" } });

const static_ = new URL("../../../webui/static/js/", import.meta.url);
const pc = await import(new URL("views/building-plan-cameras.js", static_).href);
const { doorCamera } = await import(new URL("views/building-door.js", static_).href);
const { cameraChoices } = await import(new URL("views/building-setup.js", static_).href);
const { emptyCameras, applyCamerasList } = await import(new URL("views/cameras-model.js", static_).href);

const cams = () => {
  const s = emptyCameras();
  applyCamerasList(s, {
    cameras: [
      { id: "lobby", name: "Lobby", enabled: true },
      { id: "gate", name: "Gate 10", enabled: true },
      { id: "gate9", name: "Gate 9", enabled: true },
      { id: "roof", name: "Roof", enabled: false },
      { id: "new", name: "", enabled: true },
    ],
    status: [
      { id: "lobby", name: "Lobby", state: "online" },
      { id: "gate", name: "Gate 10", state: "offline", reason: "unreachable" },
      { id: "gate9", name: "Gate 9", state: "degraded" },
      { id: "roof", name: "Roof", state: "online" },
    ],
  });
  return s;
};
const at = (device, floor = "f1", kind = "camera", x = 0.5, y = 0.5) => ({ floor, kind, device, x, y });

test("a placed camera shows its live state; one that is gone is marked removed once the feed has loaded", () => {
  const s = cams();
  assert.deepEqual(pc.planCamera(s, true, "lobby"), { id: "lobby", name: "Lobby", state: "online", removed: false });
  assert.deepEqual(pc.planCamera(s, true, "gate"), { id: "gate", name: "Gate 10", state: "offline", removed: false });
  assert.deepEqual(pc.planCamera(s, true, "roof"), { id: "roof", name: "Roof", state: "disabled", removed: false }, "switched off wins over its last state");
  assert.deepEqual(pc.planCamera(s, true, "new"), { id: "new", name: "new", state: "unknown", removed: false }, "no name, no state yet");
  assert.deepEqual(pc.planCamera(s, true, "gone"), { id: "gone", name: "gone", state: "unknown", removed: true });
  assert.deepEqual(pc.planCamera(s, false, "gone"), { id: "gone", name: "gone", state: "unknown", removed: false }, "before the snapshot nothing is known to be gone");
  s.status.set("solo", { id: "solo", name: "Solo", state: "degraded" });
  assert.deepEqual(pc.planCamera(s, true, "solo"), { id: "solo", name: "Solo", state: "degraded", removed: false }, "a status alone (settings still loading) is a camera");
});

test("a floor's cameras: only camera placements, by name as people read them", () => {
  const s = cams();
  const list = pc.floorCameras(s, true, [at("gate"), at("d1", "f1", "door"), at("gate9"), at("lobby"), at("gone")]);
  assert.deepEqual(
    list.map((x) => x.camera.id),
    ["gate9", "gate", "gone", "lobby"],
  );
  assert.equal(list[0].at.device, "gate9");
  assert.deepEqual(pc.floorCameras(s, true, []), []);
});

test("cameras to place: the known ones on no floor at all", () => {
  const s = cams();
  const placed = [at("lobby", "f1"), at("gate", "f2"), at("roof", "f1", "door")];
  assert.deepEqual(
    pc.camerasToPlace(s, placed).map((c) => c.id),
    ["gate9", "new", "roof"],
    "a door placement with a camera's id does not count",
  );
  assert.equal(pc.camerasToPlace(s, placed).find((c) => c.id === "new")?.name, "new", "a camera without a name goes by its id");
  assert.deepEqual(pc.camerasToPlace(emptyCameras(), placed), []);
});

test("a camera's panel docks on the side away from its marker, at its height", () => {
  assert.equal(pc.popoverCorner(0.1, 0.1), "top-right");
  assert.equal(pc.popoverCorner(0.9, 0.1), "top-left");
  assert.equal(pc.popoverCorner(0.1, 0.9), "bottom-right");
  assert.equal(pc.popoverCorner(0.9, 0.9), "bottom-left");
  assert.equal(pc.popoverCorner(0.5, 0.5), "bottom-left");
  assert.equal(pc.popoverCorner(0, 0), "top-right");
});

test("the door detail shows the picked camera while the door links it, else the first", () => {
  assert.equal(doorCamera(["a", "b"], ""), "a");
  assert.equal(doorCamera(["a", "b"], "b"), "b");
  assert.equal(doorCamera(["a", "b"], "gone"), "a");
  assert.equal(doorCamera([], "a"), "");
  assert.equal(doorCamera(undefined, ""), "");
});

test("the door editor offers every camera by name and keeps linked ids of removed ones", () => {
  const known = [
    { id: "gate", name: "Gate 10" },
    { id: "lobby", name: "Lobby" },
    { id: "gate9", name: "Gate 9" },
    { id: "new", name: "" },
  ];
  assert.deepEqual(cameraChoices(known, ["lobby", "old", "old", "older"]), [
    { id: "gate9", name: "Gate 9", removed: false },
    { id: "gate", name: "Gate 10", removed: false },
    { id: "lobby", name: "Lobby", removed: false },
    { id: "new", name: "new", removed: false },
    { id: "old", name: "old", removed: true },
    { id: "older", name: "older", removed: true },
  ]);
  assert.deepEqual(cameraChoices([], ["x"]), [{ id: "x", name: "x", removed: true }]);
  assert.deepEqual(cameraChoices([], []), []);
  const input = [{ id: "b", name: "B" }, { id: "a", name: "A" }];
  cameraChoices(input, []);
  assert.deepEqual(input.map((c) => c.id), ["b", "a"], "the input is not reordered");
});
