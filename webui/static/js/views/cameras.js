// @ts-check
// The Cameras page, for admins and facilities staff: every camera with
// its live state from the "building.cameras" topic, and live view.
//
//   #/cameras        the list: a thumbnail, the state and why, the
//                    figures civicd measures (frame rate, bit rate,
//                    resolution, codec, last frame) and the viewers
//   #/cameras/live   the live grid of 1, 4 or 9 tiles (cameras-grid.js)
//
// Admins also add, edit and delete cameras (cameras-editor.js) and look
// for cameras on the network (cameras-discovery.js). Thumbnails come from
// GET /api/cameras/{id}/snapshot for cameras with a snapshot address,
// fetched again every 10 s while the list shows and the page is visible.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { ErrorBox, confirmDialog, errorText, formatTime, h } from "../ui.js";
import {
  THUMB_REFRESH_MS,
  applyCameraEvent,
  applyCamerasList,
  bitrateText,
  byCameraName,
  cameraState,
  camerasTab,
  emptyCameras,
  fpsText,
  resolutionText,
  snapshotURL,
} from "./cameras-model.js";
import { openDiscovery } from "./cameras-discovery.js";
import { openCameraEditor } from "./cameras-editor.js";
import { mountCameraGrid } from "./cameras-grid.js";
import { reasonText, stateBadge } from "./cameras-parts.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */
/** @typedef {import("./cameras-model.js").Camera} Camera */
/** @typedef {import("./cameras-model.js").CameraStatus} CameraStatus */
/** @typedef {import("./cameras-model.js").CamerasState} CamerasState */

/**
 * @typedef {object} CamerasPage what the parts of the page share.
 * @property {AppContext} ctx
 * @property {CamerasState} state
 * @property {boolean} admin
 * @property {(fn: (id: string) => void) => () => void} on listens for changes of a camera ("*": many).
 * @property {() => Camera[]} list the cameras by name.
 * @property {(id: string) => string} look the state a camera shows (cameraState).
 * @property {(id: string) => string} stateText the state and its reason in words.
 * @property {(err: unknown) => string} explain an error in words, with civicd's own message.
 * @property {(saved: {camera: Camera, status: CameraStatus}) => void} saved shows a camera saved here at once.
 * @property {(camera?: Camera, prefill?: Partial<Camera>) => Promise<Camera | null>} edit opens the editor (admins); the camera saved, or null.
 */

/**
 * mountCameras builds the Cameras page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountCameras(ctx) {
  const { client, i18n, notices, session } = ctx;
  const admin = session.role === "admin";
  const state = emptyCameras();
  /** @type {Set<(id: string) => void>} */
  const listeners = new Set();
  /** @param {string} id */
  const emit = (id) => {
    for (const fn of listeners) fn(id);
  };

  /** @type {CamerasPage} */
  const page = {
    ctx,
    state,
    admin,
    on(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    list() {
      return [...state.cameras.values()].sort(byCameraName);
    },
    look(id) {
      return cameraState(state.cameras.get(id), state.status.get(id));
    },
    stateText(id) {
      const s = page.look(id);
      const text = i18n.t(`cam.state.${s}`);
      const why = s === "online" || s === "disabled" ? "" : reasonText(i18n, state.status.get(id)?.reason);
      return why ? `${text} · ${why}` : text;
    },
    explain(err) {
      const e = /** @type {{code?: string, message?: string}} */ (err ?? {});
      if (e.message && (e.code === "unavailable" || e.code === "conflict" || e.code === "not_found" || e.code === "invalid_params")) {
        return i18n.t(`cam.err.${e.code}`, { detail: e.message });
      }
      return errorText(i18n, err);
    },
    saved(res) {
      if (!res?.camera?.id) return;
      state.cameras.set(res.camera.id, res.camera);
      if (res.status?.id) state.status.set(res.status.id, res.status);
      fresh.add(res.camera.id);
      emit(res.camera.id);
    },
    async edit(camera, prefill) {
      const res = await openCameraEditor(page, camera, prefill);
      if (!res) return null;
      page.saved(res);
      notices.show(() => i18n.t(camera ? "cam.updated" : "cam.created", { name: res.camera.name }), "ok");
      return res.camera;
    },
  };

  const error = new ErrorBox("cameras-error");
  /** cameras changed by a live event or saved here: their rows flash once. */
  /** @type {Set<string>} */
  const fresh = new Set();

  // ---- tabs and actions ----
  /**
   * @param {"list" | "live"} name
   */
  const tabLink = (name) =>
    h("a", { class: "seg", testid: `cameras-tab-${name}`, data: { tab: name }, attrs: { href: name === "live" ? "#/cameras/live" : "#/cameras" } }, h("span", { i18n: `cam.tab.${name}` }));
  const tabs = h("nav", { class: "seg-group", i18nAriaLabel: "cam.tabs" }, tabLink("list"), tabLink("live"));
  const findBtn = admin ? h("button", { class: "btn btn-small", testid: "camera-discover", i18n: "cam.discover", attrs: { type: "button" } }) : null;
  const addBtn = admin ? h("button", { class: "btn btn-small btn-primary", testid: "camera-new", i18n: "cam.new", attrs: { type: "button" } }) : null;
  findBtn?.addEventListener("click", () => openDiscovery(page));
  addBtn?.addEventListener("click", () => page.edit());

  // ---- the list ----
  const count = h("span", { class: "muted small", testid: "cameras-count" });
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", testid: "cameras-empty", i18n: admin ? "cam.empty_admin" : "cam.empty", attrs: { hidden: true } });
  const cols = ["cam.col.picture", "cam.col.camera", "cam.col.state", "cam.col.resolution", "cam.col.codec", "cam.col.fps", "cam.col.bitrate", "cam.col.last_frame", "cam.col.viewers", "cam.col.actions"];
  const listPane = h(
    "div",
    { class: "pane", testid: "cameras-list-pane" },
    h(
      "section",
      { class: "card card-fill" },
      h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "cam.list.title" }), " ", count)),
      h(
        "div",
        { class: "table-scroll" },
        h("table", { class: "table table-dense cam-table", testid: "cameras-table" }, h("thead", {}, h("tr", {}, ...cols.map((k) => h("th", { i18n: k, class: k === "cam.col.actions" ? "col-actions" : k === "cam.col.picture" ? "cam-col-thumb" : "" })))), tbody),
        empty,
      ),
    ),
  );

  const grid = mountCameraGrid(page);
  const livePane = h("div", { class: "pane", testid: "cameras-live-pane" }, grid.el);
  // The grid's layout switch sits in the toolbar, where it costs no height.
  const toolbar = h("div", { class: "cam-toolbar" }, tabs, grid.head, h("div", { class: "cam-toolbar-right" }, findBtn, addBtn));
  const el = h("div", { class: "page page-cameras" }, toolbar, error.el, listPane, livePane);

  // ---- thumbnails ----
  /** @type {Map<string, {el: HTMLElement, img: HTMLImageElement | null, url: string, at: number}>} */
  const thumbs = new Map();
  /**
   * thumbFor returns the camera's thumbnail, made once and kept across
   * renders so a redraw does not fetch the picture again.
   * @param {Camera} c
   */
  const thumbFor = (c) => {
    const want = c.snapshot_url ? "snap" : "none";
    let t = thumbs.get(c.id);
    if (t && t.url === want) return t;
    if (want === "none") {
      t = { el: h("div", { class: "cam-thumb cam-thumb-none", testid: "camera-thumb", data: { thumb: "none" } }, h("span", { i18n: "cam.thumb.none" })), img: null, url: want, at: 0 };
    } else {
      const img = h("img", { attrs: { alt: "", loading: "lazy", decoding: "async" } });
      const box = h("div", { class: "cam-thumb", testid: "camera-thumb", data: { thumb: "loading" } }, img, h("span", { class: "cam-thumb-failed", i18n: "cam.thumb.failed" }));
      img.addEventListener("load", () => (box.dataset.thumb = "ok"));
      img.addEventListener("error", () => (box.dataset.thumb = "failed"));
      t = { el: box, img, url: want, at: 0 };
    }
    i18n.translate(t.el);
    thumbs.set(c.id, t);
    return t;
  };
  let tab = "";
  const listShown = () => tab === "list" && document.visibilityState === "visible";
  /** refreshThumbs fetches the pictures again, at most every THUMB_REFRESH_MS unless forced. */
  const refreshThumbs = (force = false) => {
    if (!listShown()) return;
    const now = Date.now();
    for (const [id, t] of thumbs) {
      if (!t.img || (!force && now - t.at < THUMB_REFRESH_MS - 500)) continue;
      t.at = now;
      t.img.src = snapshotURL(id, now);
    }
  };
  const thumbTimer = setInterval(() => refreshThumbs(), THUMB_REFRESH_MS);
  const onVisible = () => refreshThumbs();
  document.addEventListener("visibilitychange", onVisible);

  // ---- rows, kept per camera so live updates keep focus and pictures ----
  /**
   * @typedef {object} Row
   * @property {HTMLTableRowElement} tr
   * @property {HTMLElement} thumb
   * @property {HTMLElement} name
   * @property {HTMLElement} state
   * @property {HTMLElement} res
   * @property {HTMLElement} codec
   * @property {HTMLElement} fps
   * @property {HTMLElement} rate
   * @property {HTMLElement} last
   * @property {HTMLElement} viewers
   */
  /** @type {Map<string, Row>} */
  const rows = new Map();

  /** @param {string} id */
  const makeRow = (id) => {
    const cell = (/** @type {string} */ cls) => h("td", { class: cls });
    const buttons = [
      h("button", { class: "btn btn-small", data: { action: "watch" }, i18n: "cam.watch", attrs: { type: "button" }, on: { click: () => watch(id) } }),
    ];
    if (admin) {
      buttons.push(
        h("button", { class: "btn btn-small", data: { action: "edit" }, i18n: "cam.edit", attrs: { type: "button" }, on: { click: () => page.edit(state.cameras.get(id)) } }),
        h("button", { class: "btn btn-small btn-danger-quiet", data: { action: "delete" }, i18n: "cam.delete", attrs: { type: "button" }, on: { click: () => remove(id) } }),
      );
    }
    /** @type {Row} */
    const r = {
      tr: h("tr", { data: { camera: id } }),
      thumb: cell("cam-col-thumb"),
      name: cell("cam-col-name"),
      state: cell("cam-col-state"),
      res: cell("mono nowrap"),
      codec: cell("mono"),
      fps: cell("mono"),
      rate: cell("mono nowrap"),
      last: cell("nowrap small"),
      viewers: cell("mono"),
    };
    const actions = h("td", { class: "col-actions" }, h("div", { class: "row-actions" }, ...buttons));
    r.tr.append(r.thumb, r.name, r.state, r.res, r.codec, r.fps, r.rate, r.last, r.viewers, actions);
    i18n.translate(r.tr);
    rows.set(id, r);
    return r;
  };

  /**
   * fillRow writes a camera's settings and live state into its row.
   * @param {Row} r
   * @param {Camera} c
   */
  const fillRow = (r, c) => {
    const st = state.status.get(c.id);
    const s = cameraState(c, st);
    r.tr.dataset.state = s;
    r.tr.classList.toggle("row-disabled", !c.enabled);
    if (fresh.has(c.id)) {
      r.tr.classList.remove("row-fresh");
      void r.tr.offsetWidth;
      r.tr.classList.add("row-fresh");
    }
    const t = thumbFor(c);
    if (r.thumb.firstChild !== t.el) r.thumb.replaceChildren(t.el);
    const model = [c.manufacturer, c.model].filter(Boolean).join(" ");
    r.name.replaceChildren(
      h("div", {}, h("span", { class: "strong", testid: "camera-title", text: c.name }), h("span", { class: "muted small mono id-tag", text: c.id })),
      h("div", { class: "muted small cam-source", text: model || c.rtsp_url, attrs: { title: c.onvif_url ? `${c.onvif_url}\n${c.rtsp_url}` : c.rtsp_url } }),
    );
    r.state.replaceChildren(stateBadge(i18n, s, st?.reason));
    if (state.motion.has(c.id)) r.state.append(h("span", { class: "tag tag-warn", testid: "camera-motion", text: i18n.t("cam.motion") }));
    if (st?.since) r.state.title = i18n.t("cam.since", { time: formatTime(st.since) });
    const flowing = s === "online" || s === "degraded";
    r.res.textContent = resolutionText(st?.width, st?.height);
    r.codec.textContent = st?.codec || "—";
    r.fps.textContent = flowing ? fpsText(st?.fps) : "—";
    r.rate.textContent = flowing ? bitrateText(st?.bitrate_kbps) : "—";
    r.last.textContent = st?.last_frame ? formatTime(st.last_frame) : "—";
    r.viewers.textContent = String(st?.viewers ?? 0);
  };

  const render = () => {
    const list = page.list();
    for (const id of [...rows.keys()]) {
      if (!state.cameras.has(id)) {
        rows.get(id)?.tr.remove();
        rows.delete(id);
        thumbs.delete(id);
      }
    }
    const order = list.map((c) => rows.get(c.id) ?? makeRow(c.id));
    list.forEach((c, i) => fillRow(order[i], c));
    fresh.clear();
    // Re-order only when the order changed: moving a row blurs its buttons.
    const now = [...tbody.children];
    if (now.length !== order.length || order.some((r, i) => now[i] !== r.tr)) tbody.replaceChildren(...order.map((r) => r.tr));
    empty.hidden = list.length > 0;
    const online = list.filter((c) => cameraState(c, state.status.get(c.id)) === "online").length;
    count.textContent = i18n.t("cam.count", { n: list.length, online });
    refreshThumbs();
  };

  // ---- actions ----
  /** @param {string} id */
  const watch = (id) => {
    grid.show(id);
    location.hash = "#/cameras/live";
  };

  /** @param {string} id */
  const remove = async (id) => {
    const c = state.cameras.get(id);
    if (!c) return;
    const ok = await confirmDialog(i18n, i18n.t("cam.confirm_delete", { name: c.name, id: c.id }), { danger: true, confirmKey: "cam.delete" });
    if (!ok) return;
    try {
      await client.request(REQUEST_TYPES.CAMERAS_DELETE, { camera_id: id });
      state.cameras.delete(id);
      state.status.delete(id);
      emit(id);
      notices.show(() => i18n.t("cam.deleted", { name: c.name }), "ok");
    } catch (err) {
      notices.show(() => page.explain(err), "error");
    }
  };

  // ---- tabs ----
  const showTab = () => {
    const next = camerasTab(location.hash);
    listPane.hidden = next !== "list";
    livePane.hidden = next !== "live";
    grid.head.hidden = next !== "live";
    for (const a of tabs.querySelectorAll("a")) {
      if (a.dataset.tab === next) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (next === tab) return;
    tab = next;
    if (next === "live") grid.activate();
    else grid.deactivate();
    if (next === "list") refreshThumbs();
  };
  window.addEventListener("hashchange", showTab);

  // ---- loading and live updates ----
  let loadSeq = 0;
  let loadTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  const loadList = async () => {
    const seq = ++loadSeq;
    try {
      const res = await client.request(REQUEST_TYPES.CAMERAS_LIST, {});
      if (seq !== loadSeq) return;
      applyCamerasList(state, res);
      error.hide();
      emit("*");
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => page.explain(err));
    }
  };
  /** reloadSoon loads the settings again once a burst of events is over. */
  const reloadSoon = () => {
    clearTimeout(loadTimer);
    loadTimer = setTimeout(loadList, 300);
  };

  let queued = false;
  page.on((id) => {
    if (id !== "*" && id) fresh.add(id);
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      render();
    });
  });

  const unsubscribe = client.subscribe(
    [TOPICS.BUILDING_CAMERAS],
    (ev) => {
      const { id, reload } = applyCameraEvent(state, ev);
      if (ev.kind === "snapshot") error.hide();
      if (reload) reloadSoon();
      // Health figures every 5 s are not news: only state changes flash.
      if (id) emit(ev.kind === "building.camera_changed" ? id : "*");
    },
    (err) => error.show(() => page.explain(err)),
  );

  showTab();
  render();

  return {
    el,
    relocalize() {
      render();
      error.relocalize();
      grid.relocalize();
    },
    destroy() {
      window.removeEventListener("hashchange", showTab);
      document.removeEventListener("visibilitychange", onVisible);
      clearInterval(thumbTimer);
      clearTimeout(loadTimer);
      unsubscribe();
      grid.destroy();
      listeners.clear();
    },
  };
}
