// @ts-check
// A camera's live view outside the Cameras page: the Building page shows
// an alarm's camera (a forced door's linked camera, or the camera the
// alarm is about) next to the alarm. CameraFeed keeps the cameras' names
// and live state from the "building.cameras" topic; mountCameraView plays
// one camera (camera-rtc.js) with a line under it that says how the
// camera and the view are doing.

import { CameraViewer } from "../camera-rtc.js";
import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { h } from "../ui.js";
import { applyCameraEvent, applyCamerasList, cameraState, emptyCameras, fpsText, resolutionText } from "./cameras-model.js";
import { fullscreenButton, stateBadge, toggleFullscreen } from "./cameras-parts.js";

/** @typedef {import("../ws.js").ConsoleClient} ConsoleClient */
/** @typedef {import("../i18n.js").I18n} I18n */
/** @typedef {import("./cameras-model.js").CamerasState} CamerasState */

/**
 * CameraFeed holds every camera's name and live state while it is open.
 */
export class CameraFeed {
  /** @type {CamerasState} */
  state = emptyCameras();
  #client;
  /** @type {Set<(id: string) => void>} */
  #listeners = new Set();
  /** @type {() => void} */
  #unsubscribe;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #reloadTimer;

  /**
   * @param {ConsoleClient} client
   */
  constructor(client) {
    this.#client = client;
    this.#unsubscribe = client.subscribe(
      [TOPICS.BUILDING_CAMERAS],
      (ev) => {
        const { id, reload } = applyCameraEvent(this.state, ev);
        if (reload) this.#reload();
        if (id) this.#emit(id);
      },
      () => {
        // Cameras are not running, or not for this role: no names, no live view.
      },
    );
  }

  /**
   * on listens for changes of a camera ("*": many).
   * @param {(id: string) => void} fn
   * @returns {() => void}
   */
  on(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * name is a camera's name, or its id when it is not known (yet).
   * @param {string} id
   */
  name(id) {
    return this.state.cameras.get(id)?.name ?? this.state.status.get(id)?.name ?? id;
  }

  /** close ends the subscription. */
  close() {
    clearTimeout(this.#reloadTimer);
    this.#unsubscribe();
    this.#listeners.clear();
  }

  /** @param {string} id */
  #emit(id) {
    for (const fn of this.#listeners) fn(id);
  }

  /** #reload loads the settings again (the events carry only live state). */
  #reload() {
    clearTimeout(this.#reloadTimer);
    this.#reloadTimer = setTimeout(async () => {
      try {
        applyCamerasList(this.state, await this.#client.request(REQUEST_TYPES.CAMERAS_LIST, {}));
        this.#emit("*");
      } catch {
        // The live state still shows; names come with the next change.
      }
    }, 300);
  }
}

/**
 * mountCameraView builds a live view of one camera with its state line.
 * @param {{client: ConsoleClient, i18n: I18n}} ctx
 * @param {CameraFeed} feed
 * @returns {{el: HTMLElement, show: (id: string) => void, stop: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountCameraView(ctx, feed) {
  const { client, i18n } = ctx;
  const viewer = new CameraViewer({ client });
  viewer.video.classList.add("cam-video");
  const msg = h("div", { class: "cam-tile-msg-text" });
  const fs = fullscreenButton("alarm-camera-fullscreen");
  const screen = h("div", { class: "cam-tile cam-inline-screen" }, viewer.video, h("div", { class: "cam-tile-msg", attrs: { role: "status" } }, msg), h("div", { class: "cam-tile-top cam-tile-top-end" }, fs));
  const name = h("a", { class: "strong cam-inline-name", testid: "alarm-camera-name", attrs: { href: "#/cameras/live" } });
  const badge = h("span", { class: "cam-inline-badge" });
  const figures = h("span", { class: "muted small mono", testid: "alarm-camera-figures" });
  const line = h("div", { class: "cam-inline-line", testid: "alarm-camera-state" }, name, badge, figures);
  const el = h("div", { class: "cam-inline", testid: "alarm-camera", attrs: { hidden: true } }, screen, line);
  let camera = "";

  fs.addEventListener("click", () => toggleFullscreen(screen));
  screen.addEventListener("dblclick", (ev) => {
    if (!(ev.target instanceof HTMLButtonElement)) toggleFullscreen(screen);
  });

  const lookNow = () => cameraState(feed.state.cameras.get(camera), feed.state.status.get(camera));
  /** sync watches the camera unless it is switched off. */
  const sync = () => {
    if (!camera || lookNow() === "disabled") {
      if (viewer.camera) viewer.stop();
    } else if (viewer.camera !== camera) {
      viewer.watch(camera);
    }
  };

  const draw = () => {
    if (!camera) return;
    const st = feed.state.status.get(camera);
    const look = lookNow();
    el.dataset.camera = camera;
    el.dataset.state = look;
    el.dataset.phase = viewer.phase;
    name.textContent = feed.name(camera);
    badge.replaceChildren(stateBadge(i18n, look, st?.reason));
    figures.textContent = look === "online" || look === "degraded" ? `${resolutionText(st?.width, st?.height)} · ${fpsText(st?.fps)} fps` : "";
    /** @type {Record<string, string>} */
    const phases = { connecting: "cam.tile.connecting", waiting: look === "offline" ? "cam.tile.no_video" : "cam.tile.waiting", reconnecting: "cam.tile.reconnecting", failed: "cam.tile.failed" };
    let key = phases[viewer.phase] ?? "";
    if (viewer.phase === "live" && look === "offline") key = "cam.tile.no_video";
    if (viewer.phase === "failed" && viewer.state.error?.code === "not_found") key = "cam.tile.removed";
    if (look === "disabled") key = "cam.tile.disabled";
    msg.textContent = key ? i18n.t(key) : "";
    screen.classList.toggle("cam-tile-has-msg", key !== "");
  };
  viewer.onstate = draw;
  let lastLook = "";
  const off = feed.on((id) => {
    if (!camera || (id !== "*" && id !== camera)) return;
    const look = lookNow();
    if (look !== lastLook && (viewer.phase === "reconnecting" || viewer.phase === "failed")) viewer.retryNow();
    lastLook = look;
    sync();
    draw();
  });
  i18n.translate(el);

  return {
    el,
    show(id) {
      el.hidden = !id;
      if (!id) {
        if (viewer.camera) viewer.stop();
        camera = "";
        return;
      }
      if (id === camera && viewer.camera === id) return;
      camera = id;
      sync();
      draw();
    },
    stop() {
      if (viewer.camera) viewer.stop();
      camera = "";
    },
    relocalize: draw,
    destroy() {
      off();
      viewer.stop();
    },
  };
}
