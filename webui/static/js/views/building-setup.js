// @ts-check
// The Building page's Setup tab, for admins: the editors of the model,
// one section each: sites, buildings, floors, controllers, doors,
// cardholders, access levels, schedules and holidays. Each section lists
// its rows with Edit and Delete, and "New" opens the editor dialog
// (building-forms.js). Floor plans are uploaded and arranged on the Plan
// tab. Changes to places, controllers and doors reload the page's
// overview so the plan and the door list follow at once.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, confirmDialog, formatTime, h } from "../ui.js";
import { buildField, checkFields, formDialog, levelDoorsEditor, windowsEditor } from "./building-forms.js";
import { cardholdersFromCSV } from "./building-import.js";
import { byName, firstArray, windowsSummary } from "./building-model.js";
import { byCameraName } from "./cameras-model.js";

/** @typedef {import("./building.js").BuildingPage} BuildingPage */
/** @typedef {import("./building-forms.js").FieldSpec} FieldSpec */
/** @typedef {import("./building-forms.js").Field} Field */

/**
 * @typedef {object} Section one editor.
 * @property {string} name
 * @property {string} one the JSON name of one row: create and update carry
 *   it as {one: {...}}, delete names it as {one_id: "..."} (holidays: flat).
 * @property {{list: string, create: string, update: string, remove: string}} types
 * @property {string} key the row's key field ("id", or "date" for holidays).
 * @property {string[]} cols dictionary keys of the columns.
 * @property {(row: any) => (Node | string)[]} cells
 * @property {(row: any | undefined) => FieldSpec[]} fields
 * @property {(row: any | undefined) => {el: HTMLElement, read: () => Record<string, unknown>, check: () => string}} [extra] a custom part of the form.
 * @property {boolean} [places] a change reloads the overview.
 * @property {boolean} [noUpdate] saving an existing row uses create (holidays).
 */

/** The sections, in the order the side menu lists them. */
export const SECTIONS = Object.freeze(["sites", "buildings", "floors", "controllers", "doors", "cardholders", "access_levels", "schedules", "holidays"]);

/**
 * typesOf returns the request types of a section.
 * @param {string} name
 */
function typesOf(name) {
  /** @param {string} op */
  const t = (op) => /** @type {Record<string, string>} */ (REQUEST_TYPES)[`BUILDING_${name.toUpperCase()}_${op}`] ?? `building.${name}.${op.toLowerCase()}`;
  if (name === "holidays") return { list: t("LIST"), create: t("SET"), update: t("SET"), remove: t("DELETE") };
  return { list: t("LIST"), create: t("CREATE"), update: t("UPDATE"), remove: t("DELETE") };
}

/**
 * @typedef {object} CameraChoice one camera a door may link.
 * @property {string} id
 * @property {string} name
 * @property {boolean} removed a linked id no camera has any more.
 */

/**
 * cameraChoices lists the cameras a door may link: every known camera by
 * name, then the linked ids that no camera has any more (kept, and shown
 * as removed, until they are unticked).
 * @param {{id: string, name: string}[]} known
 * @param {string[]} linked
 * @returns {CameraChoice[]}
 */
export function cameraChoices(known, linked) {
  const ids = new Set(known.map((c) => c.id));
  const gone = [...new Set(linked)].filter((id) => !ids.has(id));
  return [
    ...known.map((c) => ({ id: c.id, name: c.name || c.id, removed: false })).sort(byCameraName),
    ...gone.map((id) => ({ id, name: id, removed: true })),
  ];
}

/**
 * cameraPicker is the door editor's linked cameras: a check box per known
 * camera. The order they are ticked in is kept (the first shows live
 * beside the door and its alarms), and ids of removed cameras stay linked
 * until unticked, so nothing is lost silently. Until the list has loaded,
 * or when it cannot be, the door keeps the cameras it has.
 * @param {BuildingPage} page
 * @param {string[]} linked
 * @returns {{el: HTMLElement, read: () => Record<string, unknown>, check: () => string}}
 */
function cameraPicker(page, linked) {
  const { client, i18n } = page.ctx;
  /** @type {string[]} the ticked ids, nearest first. */
  let order = [...new Set(linked)];
  const box = h("div", { class: "check-list door-cam-picks", testid: "bf-cameras", data: { state: "loading" } }, h("span", { class: "muted small", i18n: "bld.f.cameras_loading" }));
  const el = h(
    "div",
    { class: "field field-span" },
    h("span", { class: "field-label", i18n: "bld.f.cameras" }),
    box,
    h("span", { class: "field-hint muted small", i18n: "bld.f.cameras_hint" }),
  );
  /** @param {CameraChoice[]} choices */
  const draw = (choices) => {
    box.replaceChildren(
      ...choices.map((c) => {
        const n = order.indexOf(c.id);
        const tick = h("input", { attrs: { type: "checkbox", value: c.id } });
        tick.checked = n >= 0;
        tick.addEventListener("change", () => {
          order = tick.checked ? [...order.filter((x) => x !== c.id), c.id] : order.filter((x) => x !== c.id);
          draw(choices);
        });
        return h(
          "label",
          { class: `check door-cam-pick${c.removed ? " door-cam-pick-removed" : ""}`, data: { camera: c.id, removed: String(c.removed) } },
          tick,
          h("span", { text: c.removed ? i18n.t("bld.f.camera_removed", { id: c.id }) : `${c.name} (${c.id})` }),
          n >= 0 ? h("span", { class: "door-cam-pick-order", text: String(n + 1), attrs: { title: i18n.t("bld.f.camera_order", { n: n + 1 }) } }) : null,
        );
      }),
    );
    if (choices.length === 0) box.append(h("span", { class: "muted small", text: i18n.t("bld.f.cameras_none") }));
  };
  client.request(REQUEST_TYPES.CAMERAS_LIST, {}).then(
    (res) => {
      box.dataset.state = "ready";
      draw(cameraChoices(Array.isArray(res?.cameras) ? res.cameras : [], order));
    },
    () => {
      // Cameras are not running: keep the linked ids, named as they are.
      box.dataset.state = "failed";
      if (order.length) draw(order.map((id) => ({ id, name: id, removed: false })));
      else box.replaceChildren();
      box.append(h("span", { class: "muted small", text: i18n.t("bld.f.cameras_failed") }));
    },
  );
  i18n.translate(el);
  return { el, read: () => ({ cameras: [...order] }), check: () => "" };
}

/**
 * mountSetup builds the Setup tab.
 * @param {BuildingPage} page
 * @returns {{el: HTMLElement, activate: () => void, relocalize: () => void, destroy: () => void}}
 */
export function mountSetup(page) {
  const { client, i18n, notices } = page.ctx;
  /** @type {Map<string, any[]>} rows of each section, as last loaded. */
  const rows = new Map();
  let current = "sites";
  let loadSeq = 0;

  /** @param {string} name */
  const list = (name) => rows.get(name) ?? [];
  /**
   * @param {string} name
   * @param {string} [none] dictionary key of an empty first option.
   */
  const optionsOf = (name, none) => () => {
    /** @type {{value: string, label: string}[]} */
    const out = none ? [{ value: "", label: i18n.t(none) }] : [];
    for (const r of [...list(name)].sort(byName)) out.push({ value: r.id, label: `${r.name} (${r.id})` });
    return out;
  };
  const floorOptions = () =>
    page.state.floors.map((f) => ({ value: f.id, label: `${page.floorLabel(f.id)} (${f.id})` }));
  /** @param {string} key */
  const yes = (key) => i18n.t(key);
  /** @param {unknown} v */
  const text = (v) => (v === undefined || v === null || v === "" ? "—" : String(v));
  const mono = (/** @type {string} */ v) => h("span", { class: "mono small", text: v });

  /** @type {Record<string, Section>} */
  const sections = {
    sites: {
      name: "sites",
      one: "site",
      types: typesOf("sites"),
      key: "id",
      places: true,
      cols: ["bld.f.id", "bld.f.name", "bld.f.time_zone", "bld.f.anti_passback"],
      cells: (r) => [mono(r.id), r.name, text(r.time_zone), r.anti_passback ? yes("bld.yes") : "—"],
      fields: () => [
        { key: "id", label: "bld.f.id", type: "id", required: true, placeholder: "bld.f.id_ph" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
        { key: "time_zone", label: "bld.f.time_zone", type: "text", placeholder: "bld.f.time_zone_ph", hint: "bld.f.time_zone_hint", keepEmpty: true },
        { key: "anti_passback", label: "bld.f.anti_passback_site", type: "check", wide: true },
      ],
    },
    buildings: {
      name: "buildings",
      one: "building",
      types: typesOf("buildings"),
      key: "id",
      places: true,
      cols: ["bld.f.id", "bld.f.name", "bld.f.site"],
      cells: (r) => [mono(r.id), r.name, list("sites").find((x) => x.id === r.site)?.name ?? r.site],
      fields: () => [
        { key: "id", label: "bld.f.id", type: "id", required: true, placeholder: "bld.f.id_ph" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
        { key: "site", label: "bld.f.site", type: "select", required: true, options: optionsOf("sites") },
      ],
    },
    floors: {
      name: "floors",
      one: "floor",
      types: typesOf("floors"),
      key: "id",
      places: true,
      cols: ["bld.f.id", "bld.f.name", "bld.f.building", "bld.f.level", "bld.f.plan"],
      cells: (r) => [
        mono(r.id),
        r.name,
        list("buildings").find((x) => x.id === r.building)?.name ?? r.building,
        String(r.level ?? 0),
        r.plan ? h("span", { class: "tag tag-ok", text: r.plan === "image/png" ? "PNG" : "SVG" }) : h("span", { class: "muted small", text: i18n.t("bld.f.no_plan") }),
      ],
      fields: () => [
        { key: "id", label: "bld.f.id", type: "id", required: true, placeholder: "bld.f.id_ph" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
        { key: "building", label: "bld.f.building", type: "select", required: true, options: optionsOf("buildings") },
        { key: "level", label: "bld.f.level", type: "number", min: -20, max: 200, hint: "bld.f.level_hint" },
      ],
    },
    controllers: {
      name: "controllers",
      one: "controller",
      types: typesOf("controllers"),
      key: "id",
      places: true,
      cols: ["bld.f.id", "bld.f.name", "bld.f.state", "bld.f.heartbeat", "bld.f.fail_mode"],
      cells: (r) => {
        const st = page.state.controllers.get(r.id);
        return [
          mono(r.id),
          r.name,
          h("span", { class: `tag ${st?.online ? "tag-ok" : "tag-warn"}`, text: i18n.t(st?.online ? "bld.online" : "bld.offline"), attrs: { title: st?.last_seen ? formatTime(st.last_seen) : null } }),
          i18n.t("unit.s", { n: r.heartbeat_seconds }),
          i18n.t(`bld.fail.${r.fail_mode}`),
        ];
      },
      fields: (r) => [
        { key: "id", label: "bld.f.id", type: "id", required: true, placeholder: "bld.f.id_ph", hint: "bld.f.ctrl_id_hint" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
        { key: "password", label: "bld.f.password", type: "password", required: !r, placeholder: r ? "bld.f.password_keep" : "bld.f.password_new", hint: "bld.f.password_hint" },
        { key: "heartbeat_seconds", label: "bld.f.heartbeat", type: "number", min: 5, max: 3600, placeholder: "bld.f.heartbeat_ph" },
        {
          key: "fail_mode",
          label: "bld.f.fail_mode",
          type: "select",
          options: () => ["secure", "safe"].map((m) => ({ value: m, label: i18n.t(`bld.fail.${m}`) })),
          hint: "bld.f.fail_mode_hint",
          wide: true,
        },
      ],
    },
    doors: {
      name: "doors",
      one: "door",
      types: typesOf("doors"),
      key: "id",
      places: true,
      cols: ["bld.f.id", "bld.f.name", "bld.f.floor", "bld.f.controller", "bld.f.readers", "bld.f.times", "bld.f.mode"],
      cells: (r) => [
        mono(r.id),
        r.name,
        page.floorLabel(r.floor),
        mono(r.controller),
        h("span", { class: "mono small", text: [r.reader_in && `↘ ${r.reader_in}`, r.reader_out && `↗ ${r.reader_out}`].filter(Boolean).join("  ") || "—" }),
        i18n.t("bld.f.times_val", { unlock: r.unlock_seconds, held: r.held_open_seconds }),
        i18n.t(`bld.mode.${r.mode || "controlled"}`),
      ],
      fields: () => [
        { key: "id", label: "bld.f.id", type: "id", required: true, placeholder: "bld.f.id_ph", hint: "bld.f.door_id_hint" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
        { key: "floor", label: "bld.f.floor", type: "select", required: true, options: floorOptions },
        { key: "controller", label: "bld.f.controller", type: "select", required: true, options: optionsOf("controllers") },
        { key: "reader_in", label: "bld.f.reader_in", type: "id", keepEmpty: true, placeholder: "bld.f.reader_ph" },
        { key: "reader_in_pin", label: "bld.f.reader_pin", type: "check" },
        { key: "reader_out", label: "bld.f.reader_out", type: "id", keepEmpty: true, placeholder: "bld.f.reader_ph" },
        { key: "reader_out_pin", label: "bld.f.reader_pin", type: "check" },
        { key: "unlock_seconds", label: "bld.f.unlock_seconds", type: "number", min: 1, max: 300, placeholder: "bld.f.default_5" },
        { key: "held_open_seconds", label: "bld.f.held_open_seconds", type: "number", min: 1, max: 3600, placeholder: "bld.f.default_30" },
        { key: "mode", label: "bld.f.mode", type: "select", options: () => ["controlled", "unlocked_schedule", "locked_down"].map((m) => ({ value: m, label: i18n.t(`bld.mode.${m}`) })) },
        { key: "schedule", label: "bld.f.mode_schedule", type: "select", options: optionsOf("schedules", "bld.f.no_schedule") },
        { key: "anti_passback", label: "bld.f.anti_passback", type: "check", wide: true },
        { key: "station_extension", label: "bld.f.station_ext", type: "text", keepEmpty: true, placeholder: "bld.f.station_ext_ph" },
        { key: "station_digit", label: "bld.f.station_digit", type: "text", keepEmpty: true, placeholder: "bld.f.station_digit_ph" },
      ],
      extra: (r) => cameraPicker(page, r?.cameras ?? []),
    },
    cardholders: {
      name: "cardholders",
      one: "cardholder",
      types: typesOf("cardholders"),
      key: "id",
      cols: ["bld.f.name", "bld.f.department", "bld.f.cards", "bld.f.valid", "bld.f.status", "bld.f.levels"],
      cells: (r) => [
        h("span", {}, h("span", { text: r.name }), r.responder ? h("span", { class: "tag tag-danger", text: i18n.t("bld.f.responder_tag") }) : null),
        text(r.department),
        h("span", { class: "mono small", text: (r.cards ?? []).join(", ") || "—" }),
        h("span", { class: "small", text: r.valid_from || r.valid_until ? `${r.valid_from ? formatTime(r.valid_from) : "…"} → ${r.valid_until ? formatTime(r.valid_until) : "…"}` : "—" }),
        h("span", { class: `tag ${r.status === "disabled" ? "tag-warn" : "tag-ok"}`, text: i18n.t(`bld.status.${r.status || "active"}`) }),
        h("span", { class: "small", text: (r.access_levels ?? []).map((/** @type {string} */ id) => list("access_levels").find((x) => x.id === id)?.name ?? id).join(", ") || "—" }),
      ],
      fields: (r) => [
        { key: "id", label: "bld.f.id", type: "id", optionalID: true, placeholder: "bld.f.generated" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
        { key: "department", label: "bld.f.department", type: "text", keepEmpty: true },
        { key: "cards", label: "bld.f.cards", type: "list", placeholder: "bld.f.cards_ph", hint: "bld.f.cards_hint" },
        { key: "pin", label: "bld.f.pin", type: "password", placeholder: r?.has_pin ? "bld.f.pin_keep" : "bld.f.pin_new" },
        { key: "clear_pin", label: "bld.f.clear_pin", type: "check" },
        { key: "valid_from", label: "bld.f.valid_from", type: "datetime" },
        { key: "valid_until", label: "bld.f.valid_until", type: "datetime" },
        { key: "status", label: "bld.f.status", type: "select", options: () => ["active", "disabled"].map((v) => ({ value: v, label: i18n.t(`bld.status.${v}`) })) },
        { key: "responder", label: "bld.f.responder", type: "check" },
        { key: "access_levels", label: "bld.f.levels", type: "checks", wide: true, options: optionsOf("access_levels") },
      ],
    },
    access_levels: {
      name: "access_levels",
      one: "access_level",
      types: typesOf("access_levels"),
      key: "id",
      cols: ["bld.f.name", "bld.level.doors"],
      cells: (r) => [
        r.name,
        h(
          "span",
          { class: "small" },
          (r.doors ?? [])
            .map((/** @type {{door: string, schedule?: string}} */ d) => `${page.doorName(d.door)}${d.schedule ? ` (${list("schedules").find((x) => x.id === d.schedule)?.name ?? d.schedule})` : ""}`)
            .join(", ") || "—",
        ),
      ],
      fields: () => [
        { key: "id", label: "bld.f.id", type: "id", optionalID: true, placeholder: "bld.f.generated" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
      ],
      extra: (r) => {
        const doors = list("doors").length ? list("doors") : [...page.state.doors.values()];
        const ed = levelDoorsEditor(i18n, [...doors].sort(byName), [...list("schedules")].sort(byName), r?.doors ?? []);
        return { el: ed.el, read: () => ({ doors: ed.read() }), check: () => "" };
      },
    },
    schedules: {
      name: "schedules",
      one: "schedule",
      types: typesOf("schedules"),
      key: "id",
      cols: ["bld.f.name", "bld.sched.windows"],
      cells: (r) => [r.name, h("span", { class: "small", text: windowsSummary(r.windows ?? [], (d) => i18n.t(`bld.day.${d}`)) || "—" })],
      fields: () => [
        { key: "id", label: "bld.f.id", type: "id", optionalID: true, placeholder: "bld.f.generated" },
        { key: "name", label: "bld.f.name", type: "text", required: true },
      ],
      extra: (r) => {
        const ed = windowsEditor(i18n, r?.windows ?? []);
        return { el: ed.el, read: () => ({ windows: ed.read() }), check: ed.check };
      },
    },
    holidays: {
      name: "holidays",
      one: "holiday",
      types: typesOf("holidays"),
      key: "date",
      noUpdate: true,
      cols: ["bld.f.date", "bld.f.name"],
      cells: (r) => [mono(r.date), r.name],
      fields: () => [
        { key: "date", label: "bld.f.date", type: "date", required: true },
        { key: "name", label: "bld.f.name", type: "text", required: true },
      ],
    },
  };

  const nav = h(
    "nav",
    { class: "setup-nav", i18nAriaLabel: "bld.setup.sections" },
    ...SECTIONS.map((n) => h("button", { class: "setup-link", testid: `setup-${n}`, data: { section: n }, i18n: `bld.setup.${n}`, attrs: { type: "button" }, on: { click: () => show(n) } })),
  );
  const title = h("h2", { class: "card-title", testid: "setup-title" });
  const newBtn = h("button", { class: "btn btn-primary btn-small", testid: "setup-new", attrs: { type: "button" } });
  // Cardholders only: import a CSV file (building-import.js).
  const importFile = /** @type {HTMLInputElement} */ (h("input", { testid: "setup-import-file", class: "visually-hidden", attrs: { type: "file", accept: ".csv,text/csv", tabindex: "-1" } }));
  const importBtn = h("button", { class: "btn btn-small", testid: "setup-import", i18n: "bld.import.button", attrs: { type: "button" } });
  const error = new ErrorBox("setup-error");
  const thead = h("thead");
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", testid: "setup-empty", attrs: { hidden: true } });
  const hint = h("p", { class: "muted small", testid: "setup-hint" });
  const el = h(
    "div",
    { class: "pane setup-pane", testid: "building-setup-pane" },
    nav,
    h(
      "section",
      { class: "card card-fill" },
      h("div", { class: "card-head" }, title, h("div", { class: "row-actions" }, importBtn, importFile, newBtn)),
      hint,
      error.el,
      h("div", { class: "table-scroll" }, h("table", { class: "table table-dense", testid: "setup-table" }, thead, tbody), empty),
    ),
  );

  const render = () => {
    const sec = sections[current];
    for (const b of nav.querySelectorAll("button")) {
      if (b.dataset.section === current) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    el.dataset.section = current;
    title.textContent = i18n.t(`bld.setup.${current}`);
    newBtn.textContent = i18n.t(`bld.setup.new.${current}`);
    importBtn.hidden = current !== "cardholders";
    hint.textContent = i18n.t(`bld.setup.hint.${current}`);
    thead.replaceChildren(h("tr", {}, ...sec.cols.map((k) => h("th", { text: i18n.t(k) })), h("th", { class: "col-actions", text: i18n.t("bld.col.actions") })));
    const rs = [...list(current)].sort((a, b) => (sec.key === "date" ? String(a.date).localeCompare(String(b.date)) : byName(a, b)));
    tbody.replaceChildren(
      ...rs.map((r) =>
        h(
          "tr",
          { data: { key: String(r[sec.key]) } },
          ...sec.cells(r).map((c) => h("td", {}, c)),
          h(
            "td",
            { class: "col-actions" },
            h(
              "div",
              { class: "row-actions" },
              h("button", { class: "btn btn-small", data: { action: "edit" }, text: i18n.t("bld.setup.edit"), attrs: { type: "button" }, on: { click: () => edit(sec, r) } }),
              h("button", { class: "btn btn-small btn-danger-quiet", data: { action: "delete" }, text: i18n.t("bld.setup.delete"), attrs: { type: "button" }, on: { click: () => remove(sec, r) } }),
            ),
          ),
        ),
      ),
    );
    empty.hidden = rs.length > 0;
    empty.textContent = i18n.t("bld.setup.empty");
  };

  /** The sections a section's form or table reads. */
  const NEEDS = Object.freeze(
    /** @type {Record<string, string[]>} */ ({
      sites: ["sites"],
      buildings: ["buildings", "sites"],
      floors: ["floors", "buildings"],
      controllers: ["controllers"],
      doors: ["doors", "controllers", "schedules"],
      cardholders: ["cardholders", "access_levels"],
      access_levels: ["access_levels", "doors", "schedules"],
      schedules: ["schedules"],
      holidays: ["holidays"],
    }),
  );

  /** @param {string} name */
  const load = async (name) => {
    const seq = ++loadSeq;
    try {
      const got = await Promise.all(NEEDS[name].map((n) => client.request(sections[n].types.list, {})));
      if (seq !== loadSeq) return;
      NEEDS[name].forEach((n, i) => rows.set(n, firstArray(got[i])));
      error.hide();
    } catch (err) {
      if (seq !== loadSeq) return;
      error.show(() => page.explain(err));
    }
    render();
  };

  /** @param {string} name */
  const show = (name) => {
    current = name;
    render();
    load(name);
  };

  /**
   * edit opens the editor of a row, or of a new one.
   * @param {Section} sec
   * @param {any} [row]
   */
  const edit = async (sec, row) => {
    await load(sec.name);
    const editing = row !== undefined && !sec.noUpdate;
    const fields = sec.fields(row).map((spec) => buildField(i18n, spec, editing || (row !== undefined && spec.key === sec.key)));
    for (const f of fields) {
      if (row) f.write(row[f.spec.key]);
      else if (f.spec.type === "select") f.write(f.spec.options?.()[0]?.value ?? "");
    }
    const extra = sec.extra?.(row);
    const grid = h("div", { class: "form-grid" }, ...fields.map((f) => f.el), extra?.el ?? null);
    const key = row ? String(row[sec.key]) : "";
    const ok = await formDialog(i18n, {
      title: row ? i18n.t(`bld.setup.edit_title.${sec.name}`, { name: row.name ?? key }) : i18n.t(`bld.setup.new.${sec.name}`),
      testid: "setup-editor",
      body: [grid],
      submitKey: row ? "bld.setup.save" : "bld.setup.create",
      explain: page.explain,
      focus: fields.find((f) => !(f.input instanceof HTMLInputElement && f.input.readOnly))?.input,
      submit: async (problem) => {
        const bad = checkFields(fields);
        if (bad.key) {
          problem.show(() => i18n.t(bad.key, { field: i18n.t(bad.label) }));
          return false;
        }
        const extraBad = extra?.check() ?? "";
        if (extraBad) {
          problem.show(() => i18n.t(extraBad));
          return false;
        }
        /** @type {Record<string, unknown>} */
        const params = {};
        for (const f of fields) {
          const v = f.read();
          if (v !== undefined) params[f.spec.key] = v;
        }
        Object.assign(params, extra?.read() ?? {});
        if (editing) params[sec.key] = key;
        if (sec.name === "holidays") await client.request(sec.types.create, params);
        else await client.request(editing ? sec.types.update : sec.types.create, { [sec.one]: params });
        return true;
      },
    });
    if (!ok) return;
    notices.show(() => i18n.t(row ? "bld.setup.saved" : "bld.setup.created", { what: i18n.t(`bld.setup.one.${sec.name}`) }), "ok");
    await load(sec.name);
    if (sec.places) page.reload();
  };

  /**
   * @param {Section} sec
   * @param {any} row
   */
  const remove = async (sec, row) => {
    const key = String(row[sec.key]);
    const ok = await confirmDialog(i18n, i18n.t("bld.setup.confirm_delete", { what: i18n.t(`bld.setup.one.${sec.name}`), name: row.name ? `${row.name} (${key})` : key }), { danger: true, confirmKey: "bld.setup.delete" });
    if (!ok) return;
    try {
      await client.request(sec.types.remove, sec.name === "holidays" ? { date: key } : { [`${sec.one}_id`]: key });
      notices.show(() => i18n.t("bld.setup.deleted", { what: i18n.t(`bld.setup.one.${sec.name}`) }), "ok");
      await load(sec.name);
      if (sec.places) page.reload();
    } catch (err) {
      notices.show(() => page.explain(err), "error");
    }
  };

  newBtn.addEventListener("click", () => edit(sections[current]));
  importBtn.addEventListener("click", () => importFile.click());
  importFile.addEventListener("change", async () => {
    const file = importFile.files?.[0];
    importFile.value = "";
    if (!file) return;
    const got = cardholdersFromCSV(await file.text());
    if (got.problem) {
      const p = got.problem;
      notices.show(() => i18n.t(p.key, p.vars), "error");
      return;
    }
    const ok = await confirmDialog(i18n, i18n.t("bld.import.confirm", { n: got.cardholders.length, file: file.name }), { confirmKey: "bld.import.go" });
    if (!ok) return;
    try {
      const res = await client.request(REQUEST_TYPES.BUILDING_CARDHOLDERS_IMPORT, { cardholders: got.cardholders });
      notices.show(() => i18n.t("bld.import.done", { created: res?.created ?? 0, updated: res?.updated ?? 0 }), "ok");
      await load("cardholders");
    } catch (err) {
      notices.show(() => page.explain(err), "error");
    }
  });
  const offs = [page.on("controllers", () => current === "controllers" && render())];
  i18n.translate(el);
  render();

  let started = false;
  return {
    el,
    activate() {
      if (started) return;
      started = true;
      load(current);
    },
    relocalize() {
      i18n.translate(el);
      render();
      error.relocalize();
    },
    destroy() {
      for (const off of offs) off();
    },
  };
}
