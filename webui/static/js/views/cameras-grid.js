// @ts-check
// The Cameras page's live grid: 1, 4 or 9 tiles, each watching the camera
// picked in it (camera-rtc.js), with the camera's name and state over the
// picture. A tile that loses its view says so and watches again by itself.
// Double-click a tile, or press its button, for full screen. The layout
// and the cameras picked are kept in localStorage for the next visit.
// Viewers run only while the grid shows.

import { CameraViewer } from "../camera-rtc.js";
import { errorText, h } from "../ui.js";
import { GRID_KEY, GRID_LAYOUTS, fillGrid, growGrid, readGrid } from "./cameras-model.js";
import { fullscreenButton, stateBadge, toggleFullscreen } from "./cameras-parts.js";

/** @typedef {import("./cameras.js").CamerasPage} CamerasPage */
/** @typedef {import("../camera-rtc.js").ViewState} ViewState */

/**
 * @typedef {object} Tile
 * @property {number} index
 * @property {HTMLElement} el
 * @property {HTMLSelectElement} pick
 * @property {CameraViewer} viewer
 * @property {HTMLElement} msg
 * @property {HTMLElement} detail
 * @property {HTMLElement} name
 * @property {HTMLElement} badge
 * @property {string} camera the camera picked, "" for none.
 * @property {string} look the camera's state when last drawn.
 * @property {string} optKey the cameras its picker lists, as last filled.
 */

/** @returns {Storage | null} */
function store() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/**
 * mountCameraGrid builds the live grid.
 * @param {CamerasPage} page
 * @returns {{el: HTMLElement, head: HTMLElement, show: (id: string) => void, activate: () => void, deactivate: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountCameraGrid(page) {
  const { client, i18n } = page.ctx;
  const raw = (() => {
    try {
      return store()?.getItem(GRID_KEY) ?? null;
    } catch {
      return null;
    }
  })();
  const setup = readGrid(raw);
  /** No saved grid yet: fill it with the first cameras once they are known. */
  let autoFill = raw === null;
  let active = false;

  const save = () => {
    try {
      store()?.setItem(GRID_KEY, JSON.stringify({ layout: setup.layout, tiles: tiles.map((t) => t.camera) }));
    } catch {
      // Storage full or off: the grid lasts this visit only.
    }
  };

  // ---- layout switch ----
  /** @type {HTMLButtonElement[]} */
  const layoutButtons = GRID_LAYOUTS.map((n) =>
    h("button", {
      class: "seg",
      testid: `grid-layout-${n}`,
      data: { layout: String(n) },
      i18nTitle: `cam.grid.layout_${n}`,
      text: `${n}`,
      attrs: { type: "button", "aria-pressed": "false" },
      on: { click: () => setLayout(n) },
    }),
  );
  const layoutSwitch = h("div", { class: "lang-switch cam-layouts", testid: "grid-layout", i18nAriaLabel: "cam.grid.layout", attrs: { role: "group" } }, ...layoutButtons);
  const head = h(
    "div",
    { class: "cam-grid-head", testid: "grid-head" },
    h("span", { class: "field-label", i18n: "cam.grid.layout" }),
    layoutSwitch,
    h("span", { class: "muted small cam-grid-hint", i18n: "cam.grid.hint" }),
  );
  const grid = h("div", { class: "cam-grid", testid: "camera-grid" });
  const el = h("div", { class: "cam-live" }, h("div", { class: "cam-stage" }, grid));

  // ---- tiles ----
  /** @type {Tile[]} */
  const tiles = [];
  /** @param {number} index */
  const makeTile = (index) => {
    const viewer = new CameraViewer({ client });
    viewer.video.classList.add("cam-video");
    const pick = h("select", { class: "cam-pick", testid: "tile-pick", attrs: { "aria-label": i18n.t("cam.grid.pick_label", { n: index + 1 }) } });
    const fs = fullscreenButton("tile-fullscreen");
    const msg = h("div", { class: "cam-tile-msg-text" });
    const detail = h("div", { class: "cam-tile-msg-detail" });
    const name = h("span", { class: "cam-tile-name", testid: "tile-name" });
    const badge = h("span", { class: "cam-tile-badge" });
    const tileEl = h(
      "div",
      { class: "cam-tile", testid: "camera-tile", data: { tile: String(index) }, attrs: { tabindex: "0" } },
      viewer.video,
      h("div", { class: "cam-tile-msg", attrs: { role: "status" } }, msg, detail),
      h("div", { class: "cam-tile-top" }, pick, fs),
      h("div", { class: "cam-tile-info" }, name, badge),
    );
    /** @type {Tile} */
    const t = { index, el: tileEl, pick, viewer, msg, detail, name, badge, camera: setup.tiles[index] ?? "", look: "", optKey: "" };
    pick.addEventListener("change", () => assign(t, pick.value));
    fs.addEventListener("click", () => toggleFullscreen(tileEl));
    tileEl.addEventListener("dblclick", (ev) => {
      if (ev.target instanceof HTMLSelectElement || ev.target instanceof HTMLButtonElement) return;
      toggleFullscreen(tileEl);
    });
    tileEl.addEventListener("keydown", (ev) => {
      if (ev.key === "f" && ev.target === tileEl) toggleFullscreen(tileEl);
    });
    viewer.onstate = () => drawTile(t);
    i18n.translate(tileEl);
    return t;
  };
  for (let i = 0; i < 9; i++) tiles.push(makeTile(i));

  /**
   * assign puts a camera in a tile ("" empties it).
   * @param {Tile} t
   * @param {string} id
   */
  const assign = (t, id) => {
    t.camera = id;
    autoFill = false;
    save();
    sync(t);
    drawTile(t);
  };

  /**
   * gone reports whether a tile's camera is known to be removed (the list
   * has loaded and lacks it).
   * @param {Tile} t
   */
  const gone = (t) => t.camera !== "" && page.state.cameras.size > 0 && !page.state.cameras.has(t.camera);

  /**
   * sync starts or stops a tile's viewer: it watches while the grid
   * shows, the tile is in the layout and its camera exists and is on.
   * @param {Tile} t
   */
  const sync = (t) => {
    const want = active && t.index < setup.layout && t.camera !== "" && !gone(t) && page.look(t.camera) !== "disabled";
    if (!want) {
      if (t.viewer.camera) t.viewer.stop();
    } else if (t.viewer.camera !== t.camera) {
      t.viewer.watch(t.camera);
    }
  };

  /** @param {number} n */
  const setLayout = (n) => {
    if (!GRID_LAYOUTS.includes(n)) return;
    const before = setup.layout;
    setup.layout = n;
    if (autoFill) fill();
    else if (n > before) {
      // The tiles a bigger grid adds show the cameras not shown yet.
      growGrid(tiles.map((t) => t.camera), before, n, page.list().map((c) => c.id)).forEach((id, i) => (tiles[i].camera = id));
    }
    save();
    layout();
  };

  /** fill puts the first cameras into an empty grid. */
  const fill = () => {
    const ids = page.list().map((c) => c.id);
    if (ids.length === 0) return;
    const next = fillGrid(tiles.map((t) => t.camera), setup.layout, ids);
    next.forEach((id, i) => (tiles[i].camera = id));
    autoFill = false;
    save();
  };

  /** layout shows as many tiles as the layout has and watches in them. */
  const layout = () => {
    grid.dataset.layout = String(setup.layout);
    for (const b of layoutButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === setup.layout));
    grid.replaceChildren(...tiles.slice(0, setup.layout).map((t) => t.el));
    for (const t of tiles) {
      sync(t);
      if (t.index < setup.layout) drawTile(t);
    }
  };

  /** pickerKey names the cameras the pickers list, and the language. */
  const pickerKey = () => `${i18n.lang}|${page.list().map((c) => `${c.id}\u0000${c.name}`).join("\u0001")}`;

  /**
   * options fills a tile's picker with the cameras by name.
   * @param {Tile} t
   */
  const options = (t) => {
    const list = page.list();
    t.optKey = pickerKey();
    const none = h("option", { text: i18n.t("cam.grid.none"), attrs: { value: "" } });
    const opts = list.map((c) => h("option", { text: c.name, attrs: { value: c.id } }));
    if (t.camera && !page.state.cameras.has(t.camera)) opts.push(h("option", { text: i18n.t("cam.grid.gone", { id: t.camera }), attrs: { value: t.camera } }));
    t.pick.replaceChildren(none, ...opts);
    t.pick.value = t.camera;
    t.pick.setAttribute("aria-label", i18n.t("cam.grid.pick_label", { n: t.index + 1 }));
  };

  /**
   * message says what a tile is doing when it shows no live picture.
   * @param {Tile} t
   * @param {ViewState} vs
   * @param {string} look
   * @returns {[string, string]} the message and a detail line.
   */
  const message = (t, vs, look) => {
    if (!t.camera) return [i18n.t("cam.tile.pick"), ""];
    if (gone(t)) return [i18n.t("cam.tile.removed"), ""];
    if (look === "disabled") return [i18n.t("cam.tile.disabled"), ""];
    const reason = page.state.status.get(t.camera)?.reason ?? "";
    const why = look === "offline" || look === "degraded" ? page.stateText(t.camera) : "";
    switch (vs.phase) {
      case "connecting":
        return [i18n.t("cam.tile.connecting"), ""];
      case "waiting":
        return [i18n.t(look === "offline" ? "cam.tile.no_video" : "cam.tile.waiting"), why];
      case "live":
        return look === "offline" ? [i18n.t("cam.tile.no_video"), why] : ["", ""];
      case "reconnecting":
        return [i18n.t("cam.tile.reconnecting"), vs.error ? page.explain(vs.error) : why || (reason ? page.stateText(t.camera) : "")];
      case "failed":
        if (vs.error?.code === "not_found") return [i18n.t("cam.tile.removed"), ""];
        return [i18n.t("cam.tile.failed"), vs.error ? errorText(i18n, vs.error) : ""];
    }
    return [active ? i18n.t("cam.tile.connecting") : "", ""];
  };

  /**
   * drawTile writes a tile's overlay: the camera's name and state, and
   * what the view is doing.
   * @param {Tile} t
   */
  const drawTile = (t) => {
    const c = page.state.cameras.get(t.camera);
    const vs = t.viewer.state;
    const look = t.camera ? page.look(t.camera) : "";
    t.el.dataset.camera = t.camera;
    t.el.dataset.phase = t.camera ? vs.phase : "empty";
    t.el.dataset.state = look;
    if (t.pick.value !== t.camera || t.optKey !== pickerKey()) options(t);
    t.name.textContent = c?.name ?? t.camera;
    if (t.camera) t.badge.replaceChildren(stateBadge(i18n, look, page.state.status.get(t.camera)?.reason));
    else t.badge.replaceChildren();
    const [text, detail] = message(t, vs, look);
    t.msg.textContent = text;
    t.detail.textContent = detail;
    t.el.classList.toggle("cam-tile-has-msg", text !== "");
  };

  /**
   * changed redraws the tiles after the cameras changed, and watches again
   * at once in a tile whose camera came back or was switched on.
   * @param {string} id
   */
  const changed = (id) => {
    if (autoFill && page.state.cameras.size > 0) {
      fill();
      layout();
    }
    for (const t of tiles.slice(0, setup.layout)) {
      if (id !== "*" && id !== t.camera) continue;
      const look = t.camera ? page.look(t.camera) : "";
      const phase = t.viewer.phase;
      sync(t);
      if (active && t.camera && look !== t.look && (phase === "reconnecting" || phase === "failed") && !gone(t)) t.viewer.retryNow();
      t.look = look;
      drawTile(t);
    }
  };
  const off = page.on(changed);

  i18n.translate(el);
  layout();

  return {
    el,
    head,
    show(id) {
      const shown = tiles.slice(0, setup.layout);
      if (shown.some((t) => t.camera === id)) return;
      const t = shown.find((x) => !x.camera) ?? shown[0];
      assign(t, id);
    },
    activate() {
      active = true;
      layout();
    },
    deactivate() {
      active = false;
      for (const t of tiles) if (t.viewer.camera) t.viewer.stop();
      if (document.fullscreenElement && el.contains(document.fullscreenElement)) document.exitFullscreen().catch(() => {});
    },
    relocalize() {
      for (const t of tiles) drawTile(t);
    },
    destroy() {
      off();
      active = false;
      for (const t of tiles) t.viewer.stop();
    },
  };
}
