// @ts-check
// The cameras on the Building page's floor plan (building-plan.js): a
// square marker for each camera placed on the shown floor, coloured by its
// live state from the "building.cameras" topic (online, degraded, offline,
// unknown, disabled) and labelled with its name; clicking one opens a
// panel over the plan with the camera live (cameras-inline.js). Admins
// place, move and remove cameras in the plan's arrange mode, the same way
// as doors. The side card lists the floor's cameras under its doors.
//
// openCameraFeed shares one camera feed between the plan and the door
// detail (building-door.js), which shows the selected door's cameras live.

import { h } from "../ui.js";
import { CameraFeed, mountCameraView } from "./cameras-inline.js";
import { byCameraName, cameraState } from "./cameras-model.js";

/** @typedef {import("./building.js").BuildingPage} BuildingPage */
/** @typedef {import("./building-model.js").Placement} Placement */
/** @typedef {import("./cameras-model.js").CamerasState} CamerasState */

/** The placement kind of a camera. */
export const CAMERA_KIND = "camera";

/** The camera states the plan's legend shows, in its order. */
export const LEGEND_STATES = Object.freeze(["online", "degraded", "offline", "unknown", "disabled"]);

/**
 * @typedef {object} PlanCamera a placed camera as the plan draws it.
 * @property {string} id
 * @property {string} name its name, or its id when not known.
 * @property {string} state online, degraded, offline, unknown or disabled.
 * @property {boolean} removed the camera no longer exists (its placement stayed).
 */

/** @type {WeakMap<BuildingPage, {feed: CameraFeed, users: number}>} */
const feeds = new WeakMap();

/**
 * openCameraFeed returns the page's camera feed for the plan and the door
 * detail, opened on first use; release closes it after its last user.
 * @param {BuildingPage} page
 * @returns {{feed: CameraFeed, loaded: () => boolean, release: () => void}}
 */
export function openCameraFeed(page) {
  let f = feeds.get(page);
  if (!f) {
    const feed = new CameraFeed(page.ctx.client);
    f = { feed, users: 0 };
    feeds.set(page, f);
    // The first change is the topic's snapshot: from then on a camera the
    // feed does not know was removed.
    const off = feed.on(() => {
      loadedFeeds.add(feed);
      off();
    });
  }
  const shared = f;
  shared.users++;
  let released = false;
  return {
    feed: shared.feed,
    loaded: () => loadedFeeds.has(shared.feed),
    release() {
      if (released) return;
      released = true;
      if (--shared.users > 0) return;
      shared.feed.close();
      feeds.delete(page);
    },
  };
}

/** @type {WeakSet<CameraFeed>} feeds that have had their snapshot. */
const loadedFeeds = new WeakSet();

/**
 * planCamera is how the plan shows a placed camera.
 * @param {CamerasState} s
 * @param {boolean} loaded the feed has its snapshot.
 * @param {string} id
 * @returns {PlanCamera}
 */
export function planCamera(s, loaded, id) {
  const c = s.cameras.get(id);
  const st = s.status.get(id);
  const removed = loaded && !c && !st;
  return { id, name: c?.name || st?.name || id, state: removed ? "unknown" : cameraState(c, st), removed };
}

/**
 * floorCameras lists the cameras placed among placements (one floor's),
 * by name.
 * @param {CamerasState} s
 * @param {boolean} loaded
 * @param {Placement[]} placements
 * @returns {{camera: PlanCamera, at: Placement}[]}
 */
export function floorCameras(s, loaded, placements) {
  return placements
    .filter((p) => p.kind === CAMERA_KIND)
    .map((p) => ({ camera: planCamera(s, loaded, p.device), at: p }))
    .sort((a, b) => byCameraName(a.camera, b.camera));
}

/**
 * camerasToPlace lists the known cameras that are on no floor's plan, by
 * name.
 * @param {CamerasState} s
 * @param {Iterable<Placement>} placed every floor's placements.
 * @returns {{id: string, name: string}[]}
 */
export function camerasToPlace(s, placed) {
  const on = new Set();
  for (const p of placed) if (p.kind === CAMERA_KIND) on.add(p.device);
  return [...s.cameras.values()]
    .filter((c) => !on.has(c.id))
    .map((c) => ({ id: c.id, name: c.name || c.id }))
    .sort(byCameraName);
}

/**
 * popoverCorner is where a camera's panel docks in the plan: beside the
 * marker's half of the plan (top or bottom), on the side away from it, so
 * the panel never hides the marker it belongs to.
 * @param {number} x the marker's position, fractions of the plan.
 * @param {number} y
 * @returns {"top-left" | "top-right" | "bottom-left" | "bottom-right"}
 */
export function popoverCorner(x, y) {
  return `${y < 0.5 ? "top" : "bottom"}-${x < 0.5 ? "right" : "left"}`;
}

/**
 * retag renames the test ids of a live view (mountCameraView names them
 * "alarm-camera…") so that a page with several views keeps them apart.
 * @param {HTMLElement} el
 * @param {string} prefix e.g. "door-live": door-live, door-live-name, …
 */
export function retag(el, prefix) {
  for (const x of [el, ...el.querySelectorAll("[data-testid]")]) {
    const id = /** @type {HTMLElement} */ (x).dataset.testid ?? "";
    if (id.startsWith("alarm-camera")) /** @type {HTMLElement} */ (x).dataset.testid = prefix + id.slice("alarm-camera".length);
  }
}

/** The camera glyph inside a marker, around 0,0 in screen pixels: body and lens. */
const GLYPH = "M-6.5 -4h8v8h-8z M2.5 -1.2l4.5 -2.6v7.6l-4.5 -2.6z";
/** The stroke across the glyph of a camera that is offline or switched off. */
const SLASH = "M-8 6.5L8 -6.5";

/**
 * @typedef {object} PlanHooks what the plan lends its cameras.
 * @property {(tag: string, attrs?: Record<string, string | number | null | undefined>, ...children: (Node | null | undefined | false)[]) => SVGElement} svg
 * @property {() => string} floor the shown floor.
 * @property {() => boolean} arranging
 * @property {() => {w: number, h: number}} planSize in SVG units.
 * @property {() => Map<string, Placement[]>} placements every floor's, by floor.
 * @property {(kind: string, device: string, x: number, y: number) => void} place
 * @property {(kind: string, device: string) => void} unplace
 * @property {(ev: PointerEvent, kind: string, device: string) => void} markerDown
 * @property {(ev: PointerEvent, li: HTMLElement, kind: string, device: string) => void} listDown
 * @property {() => boolean} dragging a marker or list item is being dragged.
 * @property {HTMLElement} box the plan's box: the panel shows over it, and
 *   the live view stops when it is hidden (another tab shows).
 */

/**
 * mountPlanCameras builds the plan's camera layer (layer, inside the SVG),
 * the panel that shows a camera live (popover, over the plan), the camera
 * legend and the side list of the floor's cameras.
 * @param {BuildingPage} page
 * @param {PlanHooks} plan
 */
export function mountPlanCameras(page, plan) {
  const { i18n } = page.ctx;
  const shared = openCameraFeed(page);
  const { feed } = shared;
  /** the camera whose panel is open, "" for none. */
  let open = "";
  let drawn = "";
  let k = 1;

  const layer = plan.svg("g", { class: "plan-cameras", "data-testid": "plan-cameras" });

  // ---- the panel with the live view ----
  const view = mountCameraView(page.ctx, feed);
  retag(view.el, "plan-camera-live");
  const popName = h("h3", { class: "plan-cam-pop-name", testid: "plan-camera-name" });
  const popId = h("span", { class: "plan-cam-pop-id muted small mono" });
  const popClose = h("button", { class: "btn btn-small btn-plain", testid: "plan-camera-close", i18nAriaLabel: "common.close", text: "×", attrs: { type: "button" } });
  const popover = h(
    "section",
    { class: "plan-cam-pop", testid: "plan-camera-popover", attrs: { hidden: true, role: "dialog" } },
    h("div", { class: "plan-cam-pop-head" }, h("div", { class: "plan-cam-pop-title" }, popName, popId), popClose),
    view.el,
  );
  popClose.addEventListener("click", () => close());

  /** @param {KeyboardEvent} ev */
  const onKey = (ev) => {
    if (ev.key === "Escape" && open) close();
  };

  // ---- legend and side list ----
  const legend = h(
    "ul",
    { class: "plan-legend plan-cam-legend", testid: "plan-camera-legend", attrs: { hidden: true } },
    h("li", { class: "plan-cam-legend-title", i18n: "bld.plan.cameras" }),
    ...LEGEND_STATES.map((st) => h("li", { data: { state: st } }, h("span", { class: `cam-square cam-look-${st}`, attrs: { "aria-hidden": "true" } }), h("span", { i18n: `cam.state.${st}` }))),
  );
  const sideTitle = h("h3", { class: "door-section", i18n: "bld.plan.cameras_here" });
  const sideList = h("ul", { class: "plan-door-list", testid: "plan-camera-list" });
  const sideEmpty = h("p", { class: "muted small", testid: "plan-camera-none" });
  const looseTitle = h("h3", { class: "door-section", i18n: "bld.plan.cameras_loose", attrs: { hidden: true } });
  const looseList = h("ul", { class: "plan-door-list", testid: "plan-camera-loose" });
  const side = h("div", { class: "plan-cam-side", testid: "plan-camera-side" }, sideTitle, sideList, sideEmpty, looseTitle, looseList);

  const here = () => floorCameras(feed.state, shared.loaded(), plan.placements().get(plan.floor()) ?? []);
  const everyPlacement = () => [...plan.placements().values()].flat();
  /** @param {PlanCamera} c */
  const label = (c) => (c.removed ? i18n.t("bld.plan.camera_removed", { id: c.id }) : c.name);
  /** @param {PlanCamera} c */
  const stateText = (c) => i18n.t(`cam.state.${c.state}`);

  /**
   * marker draws one camera.
   * @param {PlanCamera} c
   * @param {Placement} p
   */
  const marker = (c, p) => {
    const { w, h: ht } = plan.planSize();
    const g = plan.svg(
      "g",
      {
        class: `cam-marker${open === c.id ? " marker-selected" : ""}`,
        "data-testid": "plan-camera",
        "data-camera": c.id,
        "data-state": c.state,
        "data-removed": c.removed ? "true" : null,
        transform: `translate(${p.x * w} ${p.y * ht}) scale(${k})`,
        tabindex: 0,
        role: "button",
        "aria-label": `${i18n.t("bld.plan.camera_aria", { name: label(c) })}: ${stateText(c)}`,
      },
      plan.svg("title", {}, document.createTextNode(`${label(c)} (${c.id}) — ${stateText(c)}`)),
      plan.svg("rect", { class: "marker-halo", x: -15, y: -15, width: 30, height: 30, rx: 8 }),
      plan.svg("rect", { class: "marker-dot", x: -11, y: -11, width: 22, height: 22, rx: 5 }),
      plan.svg("path", { class: "marker-icon", d: GLYPH }),
      c.state === "offline" || c.state === "disabled" || c.removed ? plan.svg("path", { class: "marker-slash", d: SLASH }) : null,
      plan.svg("text", { class: "marker-label", y: 27, "text-anchor": "middle" }, document.createTextNode(label(c))),
    );
    g.addEventListener("pointerdown", (ev) => plan.markerDown(/** @type {PointerEvent} */ (ev), CAMERA_KIND, c.id));
    g.addEventListener("keydown", (ev) => {
      if (/** @type {KeyboardEvent} */ (ev).key !== "Enter") return;
      show(c.id);
      // The markers were drawn again: keep the keyboard on this one.
      /** @type {SVGElement | null} */ (layer.querySelector(`[data-camera="${CSS.escape(c.id)}"]`))?.focus();
    });
    return g;
  };

  /**
   * draw redraws the camera markers and the panel's place on the plan.
   * @param {number} unitsPerPixel the plan's scale.
   */
  const draw = (unitsPerPixel) => {
    k = unitsPerPixel;
    const list = here();
    drawn = signature(list);
    layer.replaceChildren(...list.map((x) => marker(x.camera, x.at)));
    legend.hidden = list.length === 0;
    const at = list.find((x) => x.camera.id === open);
    if (open && !at) {
      // Taken off this floor, or another floor shows: the view stops.
      close();
      return;
    }
    if (at) {
      popover.dataset.corner = popoverCorner(at.at.x, at.at.y);
      popover.dataset.camera = at.camera.id;
      popover.dataset.state = at.camera.state;
      popName.textContent = label(at.camera);
      popId.textContent = at.camera.id;
      popover.setAttribute("aria-label", i18n.t("bld.plan.camera_aria", { name: label(at.camera) }));
    }
  };

  /** @param {{camera: PlanCamera}[]} list */
  const signature = (list) => `${open}|${list.map((x) => `${x.camera.id}:${x.camera.state}:${x.camera.name}:${x.camera.removed}`).join(",")}`;

  let sideDrawn = "";
  /** renderSide redraws the side list when what it shows changed (or force). */
  const renderSide = (force = false) => {
    const arranging = plan.arranging();
    const list = here();
    const loose = arranging && page.admin ? camerasToPlace(feed.state, everyPlacement()) : [];
    const looseSig = loose.map((c) => `${c.id}:${c.name}:${cameraState(feed.state.cameras.get(c.id), feed.state.status.get(c.id))}`).join(",");
    const sig = `${arranging}|${feed.state.cameras.size}|${signature(list)}|${looseSig}`;
    if (sig === sideDrawn && !force) return;
    sideDrawn = sig;
    sideList.replaceChildren(
      ...list.map(({ camera: c }) =>
        h(
          "li",
          { class: `plan-door${open === c.id ? " plan-door-selected" : ""}`, data: { camera: c.id, state: c.state, placed: "true" } },
          h("span", { class: `cam-square cam-look-${c.state}`, attrs: { "aria-hidden": "true" } }),
          h("button", { class: "plan-door-name", text: label(c), attrs: { type: "button" }, on: { click: () => show(c.id) } }),
          h("span", { class: "muted small", text: stateText(c) }),
          arranging ? h("button", { class: "btn btn-small btn-danger-quiet", data: { action: "unplace" }, text: i18n.t("bld.plan.unplace"), attrs: { type: "button" }, on: { click: () => plan.unplace(CAMERA_KIND, c.id) } }) : null,
        ),
      ),
    );
    looseTitle.hidden = loose.length === 0;
    looseList.replaceChildren(
      ...loose.map((c) => {
        const st = cameraState(feed.state.cameras.get(c.id), feed.state.status.get(c.id));
        const li = h(
          "li",
          { class: "plan-door plan-door-draggable", data: { camera: c.id, state: st, placed: "false" } },
          h("span", { class: `cam-square cam-look-${st}`, attrs: { "aria-hidden": "true" } }),
          h("span", { class: "plan-door-name", text: c.name }),
          h("button", { class: "btn btn-small", data: { action: "place" }, text: i18n.t("bld.plan.place"), attrs: { type: "button" }, on: { click: () => plan.place(CAMERA_KIND, c.id, 0.5, 0.5) } }),
        );
        li.addEventListener("pointerdown", (ev) => plan.listDown(/** @type {PointerEvent} */ (ev), li, CAMERA_KIND, c.id));
        return li;
      }),
    );
    sideEmpty.hidden = list.length > 0;
    sideEmpty.textContent = i18n.t(arranging && feed.state.cameras.size === 0 ? "bld.plan.no_cameras_admin" : "bld.plan.no_cameras_here");
    // Without cameras anywhere the section stays out of the way.
    side.hidden = list.length === 0 && !arranging && feed.state.cameras.size === 0;
  };

  /**
   * show opens the panel of a placed camera, with its live view.
   * @param {string} id
   */
  const show = (id) => {
    if (!here().some((x) => x.camera.id === id)) return;
    open = id;
    popover.hidden = false;
    document.addEventListener("keydown", onKey);
    view.show(id);
    draw(k);
    renderSide();
  };

  const close = () => {
    if (!open && popover.hidden) return;
    open = "";
    popover.hidden = true;
    delete popover.dataset.camera;
    document.removeEventListener("keydown", onKey);
    view.stop();
    draw(k);
    renderSide();
  };

  // The view runs only while the plan shows: a hidden tab has no size.
  const seen = new ResizeObserver((entries) => {
    if (entries.some((e) => e.contentRect.width === 0 || e.contentRect.height === 0)) close();
  });
  seen.observe(plan.box);

  const off = feed.on(() => {
    if (plan.dragging()) return;
    // Health figures come every 5 s: redraw only when what the plan shows changed.
    if (signature(here()) !== drawn) draw(k);
    renderSide();
  });

  i18n.translate(legend);
  i18n.translate(side);
  i18n.translate(popover);

  return {
    layer,
    popover,
    legend,
    side,
    draw,
    renderSide,
    show,
    close,
    /** @param {string} id */
    name: (id) => label(planCamera(feed.state, shared.loaded(), id)),
    relocalize() {
      i18n.translate(legend);
      i18n.translate(side);
      i18n.translate(popover);
      view.relocalize();
      draw(k);
      renderSide(true);
    },
    destroy() {
      off();
      seen.disconnect();
      document.removeEventListener("keydown", onKey);
      view.destroy();
      shared.release();
    },
  };
}
