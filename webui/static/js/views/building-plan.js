// @ts-check
// The Building page's floor plan: a floor's plan image (SVG or PNG) with
// a marker on each placed door, coloured live by the door's state
// (locked, unlocked, open, alarm, fault, offline) and labelled with its
// name, so colour is never the only sign. Clicking a marker selects the
// door. The floor's cameras show as square markers that open their live
// view (building-plan-cameras.js). Admins upload a floor's plan and, in
// "arrange" mode, drag doors and cameras from the side list onto the plan
// and drag markers to move them; each drop is saved as a placement (x, y
// as fractions of the plan).
//
// Everything on the plan is SVG: markers are positioned with attributes,
// since the CSP forbids inline styles. Markers keep their size on screen
// whatever the plan's size.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, h } from "../ui.js";
import { DOOR_LOOKS, byName, doorLook, floorPlanURL, roundPos } from "./building-model.js";
import { CAMERA_KIND, mountPlanCameras } from "./building-plan-cameras.js";

/** @typedef {import("./building.js").BuildingPage} BuildingPage */
/** @typedef {import("./building-model.js").Door} Door */
/** @typedef {import("./building-model.js").Placement} Placement */

const SVG_NS = "http://www.w3.org/2000/svg";

/** The plan's width in SVG units; its height follows the image's aspect. */
const PLAN_W = 1000;

/** The largest upload civicd takes (docs/building.md). */
export const MAX_PLAN_BYTES = 5 << 20;

/**
 * s creates an SVG element with attributes and children.
 * @param {string} tag
 * @param {Record<string, string | number | null | undefined>} [attrs]
 * @param {...(Node | null | undefined | false)} children
 * @returns {SVGElement}
 */
function s(tag, attrs = {}, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

/** Icons inside a marker, drawn around 0,0 in screen pixels. */
const ICONS = Object.freeze(
  /** @type {Record<string, string>} */ ({
    locked: "M-5 -1h10v8h-10z M-3.2 -1v-3a3.2 3.2 0 0 1 6.4 0v3",
    unlocked: "M-5 -1h10v8h-10z M-3.2 -1v-4.5a3.2 3.2 0 0 1 6.4 0",
    open: "M-5 7v-14h10v14 M-5 -7l6 2.5v13.5l-6 -2",
    alarm: "M-1.2 -7h2.4l-0.4 8.5h-1.6z M-1.3 3.6h2.6v2.6h-2.6z",
    fault: "M-1.2 -7h2.4l-0.4 8.5h-1.6z M-1.3 3.6h2.6v2.6h-2.6z",
    offline: "M-5 -1h10v2h-10z",
    unknown: "M-5 -1h10v2h-10z",
  }),
);

/**
 * planFloor picks the floor the plan shows: the wanted one if it exists,
 * else the first floor that has doors, else the first floor, else "".
 * @param {{id: string}[]} floors in display order.
 * @param {Iterable<Door>} doors
 * @param {string} wanted
 * @returns {string}
 */
export function planFloor(floors, doors, wanted) {
  if (wanted && floors.some((f) => f.id === wanted)) return wanted;
  const withDoors = new Set([...doors].map((d) => d.floor));
  return (floors.find((f) => withDoors.has(f.id)) ?? floors[0])?.id ?? "";
}

/**
 * mountFloorPlan builds the plan card and the side list of the floor's
 * doors (side, shown under the door detail).
 * @param {BuildingPage} page
 * @returns {{el: HTMLElement, side: HTMLElement, activate: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountFloorPlan(page) {
  const { client, i18n, notices } = page.ctx;
  let floor = "";
  let arranging = false;
  /** @type {Map<string, Placement[]>} placements by floor, as loaded. */
  const placements = new Map();
  /** @type {Map<string, {w: number, h: number}>} the plan images' sizes by floor. */
  const sizes = new Map();
  /** @type {Map<string, number>} plan versions after uploads, by floor. */
  const versions = new Map();
  let loadSeq = 0;

  const error = new ErrorBox("plan-error");
  const floorSel = h("select", { testid: "plan-floor", class: "select-compact", i18nAriaLabel: "bld.plan.floor" });
  const legend = h(
    "ul",
    { class: "plan-legend", testid: "plan-legend" },
    ...DOOR_LOOKS.filter((l) => l !== "unknown").map((l) => h("li", { data: { look: l } }, h("span", { class: `legend-dot look-${l}`, attrs: { "aria-hidden": "true" } }), h("span", { i18n: `bld.look.${l}` }))),
  );
  const fileInput = h("input", { testid: "plan-file", class: "visually-hidden", attrs: { type: "file", accept: ".svg,.png,image/svg+xml,image/png", tabindex: "-1" } });
  const uploadBtn = page.admin ? h("button", { class: "btn btn-small", testid: "plan-upload", i18n: "bld.plan.upload", attrs: { type: "button" } }) : null;
  const arrangeBtn = page.admin ? h("button", { class: "btn btn-small", testid: "plan-arrange", attrs: { type: "button", "aria-pressed": "false" } }) : null;

  const svg = /** @type {SVGSVGElement} */ (s("svg", { class: "plan-svg", "data-testid": "plan-svg", role: "img", preserveAspectRatio: "xMidYMid meet" }));
  const bg = s("rect", { class: "plan-bg", x: 0, y: 0 });
  const grid = s("rect", { class: "plan-grid", x: 0, y: 0 });
  const image = s("image", { class: "plan-image", x: 0, y: 0, preserveAspectRatio: "none", "data-testid": "plan-image" });
  const noPlan = s("text", { class: "plan-none", "text-anchor": "middle", "data-testid": "plan-none" });
  const markers = s("g", { class: "plan-markers" });
  const ghost = s("g", { class: "door-marker marker-ghost", visibility: "hidden" }, s("circle", { class: "marker-dot", r: 11 }));
  const defs = s(
    "defs",
    {},
    s("pattern", { id: "plan-grid-pattern", width: 50, height: 50, patternUnits: "userSpaceOnUse" }, s("path", { d: "M50 0H0V50", class: "plan-grid-line" })),
  );
  svg.append(defs, bg, grid, image, noPlan, markers, ghost);
  grid.setAttribute("fill", "url(#plan-grid-pattern)");

  const planBox = h("div", { class: "plan-box", testid: "plan-box" }, svg);
  const cams = mountPlanCameras(page, {
    svg: s,
    floor: () => floor,
    arranging: () => arranging,
    planSize: () => planSize(),
    placements: () => placements,
    place: (kind, device, x, y) => place(kind, device, x, y),
    unplace: (kind, device) => unplace(kind, device),
    markerDown: (ev, kind, device) => startMarkerDrag(ev, kind, device),
    listDown: (ev, li, kind, device) => startListDrag(ev, li, kind, device),
    dragging: () => drag !== null,
    box: planBox,
  });
  svg.insertBefore(cams.layer, markers);
  planBox.append(cams.popover);
  const el = h(
    "section",
    { class: "card card-fill plan-card", testid: "plan-card" },
    h("div", { class: "card-head plan-head" }, h("div", { class: "plan-head-left" }, h("h2", { class: "card-title", i18n: "bld.plan.title" }), floorSel), h("div", { class: "button-row" }, uploadBtn, arrangeBtn, fileInput)),
    error.el,
    planBox,
    h("div", { class: "plan-foot" }, h("div", { class: "plan-legends" }, legend, cams.legend), h("p", { class: "muted small plan-help", testid: "plan-help", attrs: { hidden: true } })),
  );
  const help = /** @type {HTMLElement} */ (el.querySelector(".plan-help"));

  const sideTitle = h("h2", { class: "card-title", i18n: "bld.plan.doors_here" });
  const sideList = h("ul", { class: "plan-door-list", testid: "plan-door-list" });
  const sideEmpty = h("p", { class: "muted small", i18n: "bld.plan.no_doors_here", attrs: { hidden: true } });
  const side = h("section", { class: "card plan-side", testid: "plan-side" }, h("div", { class: "card-head" }, sideTitle), sideList, sideEmpty, cams.side);

  /** @returns {{w: number, h: number}} the plan's size in SVG units. */
  const planSize = () => {
    const sz = sizes.get(floor);
    if (!sz || !sz.w || !sz.h) return { w: PLAN_W, h: Math.round(PLAN_W * 0.62) };
    return { w: PLAN_W, h: Math.round((PLAN_W * sz.h) / sz.w) };
  };

  /** the factor that turns screen pixels into SVG units at the plan's current size. */
  const unitsPerPixel = () => {
    const r = svg.getBoundingClientRect();
    const { w, h: ht } = planSize();
    const scale = Math.min(r.width / w, r.height / ht);
    return scale > 0 ? 1 / scale : 1;
  };

  /**
   * toPlan turns a pointer position into plan fractions, or null when it
   * is outside the plan.
   * @param {number} cx
   * @param {number} cy
   * @returns {{x: number, y: number} | null}
   */
  const toPlan = (cx, cy) => {
    const m = svg.getScreenCTM();
    if (!m) return null;
    const p = new DOMPoint(cx, cy).matrixTransform(m.inverse());
    const { w, h: ht } = planSize();
    const x = p.x / w;
    const y = p.y / ht;
    if (x < 0 || x > 1 || y < 0 || y > 1) return null;
    return { x, y };
  };

  const floorDoors = () => [...page.state.doors.values()].filter((d) => d.floor === floor).sort(byName);
  /** @param {string} id */
  const placementOf = (id) => (placements.get(floor) ?? []).find((p) => p.kind === "door" && p.device === id);
  /**
   * @param {string} kind
   * @param {string} device
   * @returns {(p: Placement) => boolean}
   */
  const isNot = (kind, device) => (p) => !(p.kind === kind && p.device === device);

  /**
   * marker draws one door.
   * @param {Door} d
   * @param {Placement} p
   * @param {number} k units per pixel.
   */
  const marker = (d, p, k) => {
    const { w, h: ht } = planSize();
    const look = doorLook(d);
    const g = s(
      "g",
      {
        class: `door-marker${page.selected === d.id ? " marker-selected" : ""}${d.lockdown ? " marker-lockdown" : ""}`,
        "data-testid": "plan-door",
        "data-door": d.id,
        "data-look": look,
        transform: `translate(${p.x * w} ${p.y * ht}) scale(${k})`,
        tabindex: 0,
        role: "button",
        "aria-label": `${d.name}: ${i18n.t(`bld.look.${look}`)}`,
      },
      s("title", {}, document.createTextNode(`${d.name} (${d.id}) — ${i18n.t(`bld.look.${look}`)}`)),
      s("circle", { class: "marker-halo", r: 17 }),
      s("circle", { class: "marker-dot", r: 11 }),
      s("path", { class: "marker-icon", d: ICONS[look] ?? ICONS.unknown }),
      s("text", { class: "marker-label", y: 27, "text-anchor": "middle" }, document.createTextNode(d.name)),
    );
    g.addEventListener("pointerdown", (ev) => startMarkerDrag(/** @type {PointerEvent} */ (ev), "door", d.id));
    g.addEventListener("keydown", (ev) => {
      if (/** @type {KeyboardEvent} */ (ev).key === "Enter") page.select(d.id);
    });
    return g;
  };

  const renderPlan = () => {
    const f = page.state.floors.find((x) => x.id === floor);
    const { w, h: ht } = planSize();
    svg.setAttribute("viewBox", `0 0 ${w} ${ht}`);
    for (const r of [bg, grid]) {
      r.setAttribute("width", String(w));
      r.setAttribute("height", String(ht));
    }
    const hasPlan = !!f?.plan;
    el.dataset.floor = floor;
    el.dataset.plan = hasPlan ? "yes" : "no";
    image.setAttribute("width", String(w));
    image.setAttribute("height", String(ht));
    if (hasPlan) {
      const href = floorPlanURL(floor, versions.get(floor));
      if (image.getAttribute("href") !== href) image.setAttribute("href", href);
      image.removeAttribute("visibility");
    } else {
      image.removeAttribute("href");
      image.setAttribute("visibility", "hidden");
    }
    grid.setAttribute("visibility", hasPlan ? "hidden" : "visible");
    noPlan.setAttribute("x", String(w / 2));
    noPlan.setAttribute("y", String(ht / 2));
    noPlan.setAttribute("visibility", hasPlan ? "hidden" : "visible");
    noPlan.textContent = f ? i18n.t(page.admin ? "bld.plan.none_admin" : "bld.plan.none") : i18n.t(page.admin ? "bld.plan.no_floors_admin" : "bld.plan.no_floors");
    svg.setAttribute("aria-label", f ? i18n.t("bld.plan.aria", { floor: page.floorLabel(floor) }) : i18n.t("bld.plan.title"));
    const k = unitsPerPixel();
    /** @type {SVGElement[]} */
    const ms = [];
    for (const d of floorDoors()) {
      const p = placementOf(d.id);
      if (p) ms.push(marker(d, p, k));
    }
    markers.replaceChildren(...ms);
    cams.draw(k);
    ghost.setAttribute("transform", `scale(${k})`);
    svg.classList.toggle("plan-arranging", arranging);
    help.hidden = !arranging;
    help.textContent = i18n.t("bld.plan.arrange_help");
    if (arrangeBtn) {
      arrangeBtn.textContent = i18n.t(arranging ? "bld.plan.arrange_done" : "bld.plan.arrange");
      arrangeBtn.setAttribute("aria-pressed", String(arranging));
      arrangeBtn.disabled = !f;
    }
    if (uploadBtn) uploadBtn.disabled = !f;
  };

  const renderSide = () => {
    const doors = floorDoors();
    sideList.replaceChildren(
      ...doors.map((d) => {
        const look = doorLook(d);
        const placed = !!placementOf(d.id);
        return h(
          "li",
          { class: `plan-door${page.selected === d.id ? " plan-door-selected" : ""}${!placed && arranging ? " plan-door-draggable" : ""}`, data: { door: d.id, look, placed: String(placed) } },
          h("span", { class: `legend-dot look-${look}`, attrs: { "aria-hidden": "true" } }),
          h("button", { class: "plan-door-name", text: d.name, attrs: { type: "button" }, on: { click: () => page.select(d.id) } }),
          h("span", { class: "muted small", text: i18n.t(`bld.look.${look}`) }),
          !placed && !arranging ? h("span", { class: "tag tag-plain", text: i18n.t("bld.plan.not_placed") }) : null,
          arranging && !placed ? h("button", { class: "btn btn-small", data: { action: "place" }, text: i18n.t("bld.plan.place"), attrs: { type: "button" }, on: { click: () => place("door", d.id, 0.5, 0.5) } }) : null,
          arranging && placed ? h("button", { class: "btn btn-small btn-danger-quiet", data: { action: "unplace" }, text: i18n.t("bld.plan.unplace"), attrs: { type: "button" }, on: { click: () => unplace("door", d.id) } }) : null,
        );
      }),
    );
    sideEmpty.hidden = doors.length > 0;
    for (const li of sideList.querySelectorAll("li.plan-door-draggable")) {
      const item = /** @type {HTMLElement} */ (li);
      item.addEventListener("pointerdown", (ev) => startListDrag(/** @type {PointerEvent} */ (ev), item, "door", item.dataset.door ?? ""));
    }
    cams.renderSide();
  };

  const render = () => {
    renderPlan();
    renderSide();
  };

  const fillFloors = () => {
    const floors = page.state.floors;
    floor = planFloor(floors, page.state.doors.values(), floor || page.state.doors.get(page.selected)?.floor || "");
    floorSel.replaceChildren(...floors.map((f) => h("option", { text: page.floorLabel(f.id), attrs: { value: f.id } })));
    floorSel.value = floor;
    floorSel.disabled = floors.length === 0;
  };

  /** loadFloor fetches the placements and the plan's size of the shown floor. */
  const loadFloor = async () => {
    const f = floor;
    if (!f) return render();
    const seq = ++loadSeq;
    const plan = page.state.floors.find((x) => x.id === f)?.plan;
    if (plan && !sizes.has(f)) measure(f);
    if (placements.has(f)) return render();
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_PLACEMENTS_LIST, { floor: f });
      if (seq !== loadSeq) return;
      placements.set(f, res?.placements ?? []);
      error.hide();
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => page.explain(err));
    }
    render();
  };

  /**
   * measure loads a floor's plan image to learn its aspect ratio.
   * @param {string} f
   */
  const measure = (f) => {
    const img = new Image();
    img.addEventListener("load", () => {
      sizes.set(f, { w: img.naturalWidth, h: img.naturalHeight });
      if (f === floor) render();
    });
    img.addEventListener("error", () => sizes.set(f, { w: 0, h: 0 }));
    img.src = floorPlanURL(f, versions.get(f));
  };

  /**
   * place saves a door's or a camera's position on the shown floor.
   * @param {string} kind "door" or "camera".
   * @param {string} device
   * @param {number} x
   * @param {number} y
   */
  const place = async (kind, device, x, y) => {
    const f = floor;
    /** @type {Placement} */
    const p = { floor: f, kind, device, x: roundPos(x), y: roundPos(y) };
    const before = new Map(placements);
    // A camera may move here from another floor.
    for (const [g, list] of placements) placements.set(g, list.filter(isNot(kind, device)));
    placements.set(f, [...(placements.get(f) ?? []), p]);
    render();
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_PLACEMENTS_SET, { ...p });
      const saved = res?.placement;
      if (saved?.device) placements.set(f, [...(placements.get(f) ?? []).filter(isNot(kind, device)), saved]);
      error.hide();
    } catch (err) {
      for (const [g, list] of before) placements.set(g, list);
      error.show(() => page.explain(err));
    }
    render();
  };

  /**
   * unplace takes a door or a camera off the shown floor's plan.
   * @param {string} kind
   * @param {string} device
   */
  const unplace = async (kind, device) => {
    const f = floor;
    const before = placements.get(f) ?? [];
    placements.set(f, before.filter(isNot(kind, device)));
    render();
    try {
      await client.request(REQUEST_TYPES.BUILDING_PLACEMENTS_DELETE, { kind, device });
      const name = kind === CAMERA_KIND ? cams.name(device) : page.doorName(device);
      notices.show(() => i18n.t("bld.plan.unplaced", { door: name }), "ok");
    } catch (err) {
      placements.set(f, before);
      error.show(() => page.explain(err));
      render();
    }
  };

  // ---- dragging ----
  /** @type {{kind: string, device: string, pointer: number, x0: number, y0: number, moved: boolean, g: SVGElement | null, list?: boolean} | null} */
  let drag = null;

  /**
   * pick is a click on a marker: a door is selected, a camera shows live.
   * @param {string} kind
   * @param {string} device
   */
  const pick = (kind, device) => {
    if (kind === CAMERA_KIND) cams.show(device);
    else page.select(device);
  };

  /**
   * @param {PointerEvent} ev
   * @param {string} kind
   * @param {string} device
   */
  const startMarkerDrag = (ev, kind, device) => {
    if (ev.button !== 0) return;
    ev.stopPropagation(); // not a click on the plan's background
    if (!arranging) {
      pick(kind, device);
      return;
    }
    ev.preventDefault();
    const g = /** @type {SVGElement | null} */ (ev.currentTarget);
    drag = { kind, device, pointer: ev.pointerId, x0: ev.clientX, y0: ev.clientY, moved: false, g };
    svg.setPointerCapture(ev.pointerId);
  };

  /**
   * @param {PointerEvent} ev
   * @param {HTMLElement} li
   * @param {string} kind
   * @param {string} device
   */
  const startListDrag = (ev, li, kind, device) => {
    if (ev.button !== 0 || !arranging || !device || /** @type {HTMLElement} */ (ev.target).closest("[data-action]")) return;
    ev.preventDefault();
    drag = { kind, device, pointer: ev.pointerId, x0: ev.clientX, y0: ev.clientY, moved: false, g: null, list: true };
    li.setPointerCapture(ev.pointerId);
    li.addEventListener("pointermove", onMove);
    li.addEventListener("pointerup", onUp, { once: true });
    li.addEventListener("pointercancel", onCancel, { once: true });
    document.body.classList.add("placing");
  };

  /** @param {Event} e */
  const onMove = (e) => {
    const ev = /** @type {PointerEvent} */ (e);
    if (!drag || ev.pointerId !== drag.pointer) return;
    if (Math.hypot(ev.clientX - drag.x0, ev.clientY - drag.y0) > 3) drag.moved = true;
    const pos = toPlan(ev.clientX, ev.clientY);
    const { w, h: ht } = planSize();
    const k = unitsPerPixel();
    const target = drag.g ?? ghost;
    if (pos) {
      target.setAttribute("transform", `translate(${pos.x * w} ${pos.y * ht}) scale(${k})`);
      if (!drag.g) ghost.setAttribute("visibility", "visible");
    } else if (!drag.g) {
      ghost.setAttribute("visibility", "hidden");
    }
  };

  /** @param {Event} e */
  const onUp = (e) => {
    const ev = /** @type {PointerEvent} */ (e);
    const d = drag;
    if (!d || ev.pointerId !== d.pointer) return;
    drag = null;
    ghost.setAttribute("visibility", "hidden");
    document.body.classList.remove("placing");
    const pos = toPlan(ev.clientX, ev.clientY);
    if (!d.moved) {
      // A click, not a drag: select the door, or show the camera.
      pick(d.kind, d.device);
      return;
    }
    if (pos) place(d.kind, d.device, pos.x, pos.y);
    else render();
  };

  const onCancel = () => {
    drag = null;
    ghost.setAttribute("visibility", "hidden");
    document.body.classList.remove("placing");
    render();
  };

  // A click on the plan itself closes a camera's panel.
  svg.addEventListener("pointerdown", () => {
    if (!drag) cams.close();
  });
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  svg.addEventListener("pointercancel", onCancel);

  // ---- upload ----
  uploadBtn?.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (!file || !floor) return;
    const f = floor;
    const isSVG = file.type === "image/svg+xml" || /\.svg$/i.test(file.name);
    const isPNG = file.type === "image/png" || /\.png$/i.test(file.name);
    if (!isSVG && !isPNG) {
      error.show(() => i18n.t("bld.plan.bad_type"));
      return;
    }
    if (file.size > MAX_PLAN_BYTES) {
      error.show(() => i18n.t("bld.plan.too_big"));
      return;
    }
    error.hide();
    if (uploadBtn) uploadBtn.disabled = true;
    try {
      const resp = await fetch(floorPlanURL(f), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": isSVG ? "image/svg+xml" : "image/png" },
        body: file,
      });
      if (!resp.ok) {
        /** @type {{error?: {code?: string, message?: string}}} */
        let body = {};
        try {
          body = await resp.json();
        } catch {
          // Not JSON: the status says enough.
        }
        const code = body.error?.code ?? (resp.status === 413 ? "too_large" : "http");
        const detail = body.error?.message ?? "";
        error.show(() => i18n.t("bld.plan.refused", { detail: detail || i18n.t(`err.${code}`, { status: String(resp.status), detail }) }));
        return;
      }
      versions.set(f, Date.now());
      sizes.delete(f);
      await page.reload();
      measure(f);
      notices.show(() => i18n.t("bld.plan.uploaded", { floor: page.floorLabel(f) }), "ok");
    } catch (err) {
      error.show(() => page.explain(err));
    } finally {
      if (uploadBtn) uploadBtn.disabled = false;
      render();
    }
  });

  arrangeBtn?.addEventListener("click", () => {
    arranging = !arranging;
    render();
  });

  floorSel.addEventListener("change", () => {
    floor = floorSel.value;
    loadFloor();
  });

  const resize = new ResizeObserver(() => renderPlan());
  resize.observe(planBox);

  const offs = [
    page.on("places", () => {
      const before = floor;
      fillFloors();
      const all = page.state.placements;
      if (all) {
        // The overview carries every floor's placements.
        placements.clear();
        for (const p of all) placements.set(p.floor, [...(placements.get(p.floor) ?? []), p]);
        for (const f of page.state.floors) if (!placements.has(f.id)) placements.set(f.id, []);
      }
      if (floor !== before || !placements.has(floor) || !sizes.has(floor)) loadFloor();
      else render();
    }),
    page.on("doors", (id) => {
      if (id === "*" || page.state.doors.get(id)?.floor === floor) render();
    }),
    page.on("floor", (id, data) => {
      // A plan or a placement changed in another console (or this one).
      const on = Array.isArray(data?.placements) ? data.placements : [];
      for (const [f, list] of placements) {
        if (f !== id) placements.set(f, list.filter((p) => !on.some((q) => q.kind === p.kind && q.device === p.device)));
      }
      placements.set(id, on);
      versions.set(id, Date.now());
      sizes.delete(id);
      fillFloors();
      if (id === floor) loadFloor();
      else render();
    }),
    page.on("select", (id) => {
      const d = page.state.doors.get(id);
      if (d && d.floor !== floor && page.state.floors.some((f) => f.id === d.floor)) {
        floor = d.floor;
        floorSel.value = floor;
        loadFloor();
        return;
      }
      render();
    }),
  ];
  i18n.translate(el);
  i18n.translate(side);
  render();

  return {
    el,
    side,
    activate() {
      if (floor && !placements.has(floor)) loadFloor();
      else render();
    },
    relocalize() {
      fillFloors();
      i18n.translate(el);
      i18n.translate(side);
      cams.relocalize();
      render();
      error.relocalize();
    },
    destroy() {
      cams.destroy();
      resize.disconnect();
      for (const off of offs) off();
      document.body.classList.remove("placing");
    },
  };
}
