// @ts-check
// The Phones page, for admins, officials and facilities staff: every
// extension with its live registration state from the "voip.phones" topic
// (online or offline, the device, its contact address and transport, when
// it was last seen), its forwarding and do-not-disturb as tags, and the
// ring groups. Admins also create, edit and delete extensions and ring
// groups (phone-editor.js). Admins and facilities staff also get a
// "Calls" tab (#/phones/calls): the live calls (calls.js) and, for admins,
// the call records with their CSV export (call-records.js). Every
// extension but the user's own has a "Call" button that rings it from the
// browser (softphone.js).

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { handsetIcon } from "../softphone-ui.js";
import { ErrorBox, confirmDialog, errorText, formatTime, h } from "../ui.js";
import { mountCallRecords } from "./call-records.js";
import { mountLiveCalls } from "./calls.js";
import { openExtensionEditor, openRingGroupEditor } from "./phone-editor.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */
/** @typedef {import("./phone-editor.js").Extension} Extension */
/** @typedef {import("./phone-editor.js").RingGroup} RingGroup */

/**
 * @typedef {object} Binding one registered device of an extension.
 * @property {string} contact
 * @property {string} transport
 * @property {string} source
 * @property {string} user_agent
 * @property {string} expires
 * @property {string} last_seen
 * @property {boolean} reachable
 */

/**
 * @typedef {object} Phone
 * @property {Extension} extension
 * @property {boolean} online
 * @property {Binding[]} bindings
 */

/**
 * applyPhoneEvent applies one event of the voip.phones topic to the map
 * of phones by extension number. A snapshot replaces everything; the
 * other kinds carry the phone's whole new state. It returns the number
 * of the phone that changed, or "" for a snapshot.
 * @param {Map<string, Phone>} phones
 * @param {{kind: string, data: any}} ev
 * @returns {string}
 */
export function applyPhoneEvent(phones, ev) {
  if (ev.kind === "snapshot") {
    phones.clear();
    for (const p of ev.data?.phones ?? []) phones.set(p.extension.number, p);
    return "";
  }
  /** @type {Phone | undefined} */
  const p = ev.data?.phone;
  if (!p?.extension?.number) return "";
  if (ev.kind === "voip.phone_removed") phones.delete(p.extension.number);
  else phones.set(p.extension.number, { ...p, bindings: p.bindings ?? [] });
  return p.extension.number;
}

/**
 * phoneState is what the state badge says: "online" while a registered
 * device answers, "unreachable" when every registered device stopped
 * answering keepalives, "offline" without a registration.
 * @param {Phone} p
 * @returns {"online" | "offline" | "unreachable"}
 */
export function phoneState(p) {
  if (p.online) return "online";
  return p.bindings.length > 0 ? "unreachable" : "offline";
}

/**
 * lastSeen is the newest last_seen of a phone's devices, or "".
 * @param {Phone} p
 * @returns {string}
 */
export function lastSeen(p) {
  let best = "";
  for (const b of p.bindings) {
    if (b.last_seen && (!best || Date.parse(b.last_seen) > Date.parse(best))) best = b.last_seen;
  }
  return best;
}

/**
 * extensionTags lists the tags shown beside an extension's name: do not
 * disturb, then each kind of forwarding, as dictionary keys and values.
 * @param {Extension} e
 * @returns {{key: string, vars: Record<string, string | number>, kind: "warn" | "info"}[]}
 */
export function extensionTags(e) {
  /** @type {{key: string, vars: Record<string, string | number>, kind: "warn" | "info"}[]} */
  const tags = [];
  if (e.dnd) tags.push({ key: "phones.tag.dnd", vars: {}, kind: "warn" });
  if (e.forward_always) tags.push({ key: "phones.tag.fwd_always", vars: { to: e.forward_always }, kind: "info" });
  if (e.forward_busy) tags.push({ key: "phones.tag.fwd_busy", vars: { to: e.forward_busy }, kind: "info" });
  if (e.forward_no_answer) {
    if (e.no_answer_seconds) tags.push({ key: "phones.tag.fwd_no_answer", vars: { to: e.forward_no_answer, s: e.no_answer_seconds }, kind: "info" });
    else tags.push({ key: "phones.tag.fwd_no_answer_default", vars: { to: e.forward_no_answer }, kind: "info" });
  }
  return tags;
}

/**
 * contactText is how a contact URI is shown: without the "sip:" scheme and
 * the URI parameters ("sip:1001@192.168.10.21:5060;transport=udp" shows as
 * "1001@192.168.10.21:5060"); the whole URI is the cell's tooltip.
 * @param {string} contact
 * @returns {string}
 */
export function contactText(contact) {
  let c = contact.trim();
  if (c.startsWith("<") && c.endsWith(">")) c = c.slice(1, -1);
  c = c.replace(/^sips?:/i, "");
  const semi = c.indexOf(";");
  return semi >= 0 ? c.slice(0, semi) : c;
}

/**
 * byNumber orders extension numbers as people read them: 99 before 100.
 * @param {string} a
 * @param {string} b
 */
export function byNumber(a, b) {
  return a.localeCompare(b, "en", { numeric: true });
}

/**
 * phonesTab is the tab a location hash shows: "calls" for #/phones/calls
 * when the role may watch calls, else "directory".
 * @param {string} hash
 * @param {boolean} watchCalls
 * @returns {"directory" | "calls"}
 */
export function phonesTab(hash, watchCalls) {
  return watchCalls && /^#\/phones\/calls(?:$|[/?])/.test(hash) ? "calls" : "directory";
}

/** The badge class of each state. */
const STATE_BADGE = Object.freeze({ online: "badge-running", offline: "badge-idle", unreachable: "badge-result-denied" });

/**
 * mountPhones builds the Phones page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountPhones(ctx) {
  const { client, i18n, notices, session, softphone } = ctx;
  const admin = session.role === "admin";
  const watchCalls = admin || session.role === "facilities";
  /** @type {Map<string, Phone>} */
  const phones = new Map();
  /** @type {RingGroup[]} */
  let groups = [];
  /** Last time each phone was seen on this page, kept after it goes offline. */
  /** @type {Map<string, string>} */
  const seen = new Map();
  /** Numbers changed by a live event since the last render: they flash once. */
  /** @type {Set<string>} */
  const fresh = new Set();
  /** @type {string[]} usernames for the editor's linked-user list, loaded once. */
  let usernames = [];

  const listError = new ErrorBox("phones-error");
  const groupError = new ErrorBox("ringgroups-error");
  const count = h("span", { class: "muted small", testid: "phones-count" });
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", testid: "phones-empty", i18n: admin ? "phones.empty_admin" : "phones.empty", attrs: { hidden: true } });
  const newExt = admin ? h("button", { class: "btn btn-primary btn-small", testid: "extension-new", i18n: "phones.new", attrs: { type: "button" } }) : null;
  const newGroup = admin ? h("button", { class: "btn btn-small", testid: "ringgroup-new", i18n: "rg.new", attrs: { type: "button" } }) : null;
  const gbody = h("tbody");
  const gempty = h("p", { class: "muted empty", testid: "ringgroups-empty", i18n: "rg.empty", attrs: { hidden: true } });

  /** @param {string[]} keys */
  const headRow = (keys) => h("thead", {}, h("tr", {}, ...keys.map((k) => h("th", { i18n: k, class: k.endsWith("actions") ? "col-actions" : "" }))));
  const phoneCols = ["phones.col.number", "phones.col.name", "phones.col.department", "phones.col.user", "phones.col.state", "phones.col.device", "phones.col.contact", "phones.col.last_seen"];
  const groupCols = ["rg.col.number", "rg.col.name", "rg.col.strategy", "rg.col.members", "rg.col.ring"];
  if (admin || softphone) phoneCols.push("phones.col.actions");
  if (admin) groupCols.push("phones.col.actions");

  /**
   * nameOf is the directory name of an extension or ring group number.
   * @param {string} number
   */
  const nameOf = (number) => phones.get(number)?.extension.name ?? groups.find((g) => g.number === number)?.name ?? "";
  const callCount = h("span", { class: "seg-count", testid: "phones-tab-count", attrs: { hidden: true } });
  /** @param {number} n */
  const showCallCount = (n) => {
    callCount.textContent = String(n);
    callCount.hidden = n === 0;
  };
  const records = admin ? mountCallRecords(ctx, { nameOf }) : null;
  const live = watchCalls ? mountLiveCalls(ctx, { nameOf, onCount: showCallCount, onEnded: (r) => records?.add(r), onSnapshot: () => records?.refresh() }) : null;
  if (live && !records) live.el.classList.add("card-fill");
  /**
   * @param {"directory" | "calls"} name
   * @param {string} key
   * @param {Node | null} extra
   */
  const tabLink = (name, key, extra) =>
    h("a", { class: "seg", testid: `phones-tab-${name}`, data: { tab: name }, attrs: { href: name === "calls" ? "#/phones/calls" : "#/phones" } }, h("span", { i18n: key }), extra);
  const tabs = watchCalls
    ? h("nav", { class: "seg-group phones-tabs", i18nAriaLabel: "phones.tabs" }, tabLink("directory", "phones.tab.directory", null), tabLink("calls", "phones.tab.calls", callCount))
    : null;
  const callsPane = live ? h("div", { class: "pane", testid: "phones-calls-pane" }, live.el, records?.el ?? null) : null;

  const directory = h(
    "div",
    { class: "pane", testid: "phones-directory-pane" },
    h(
      "section",
      { class: "card card-fill" },
      h("div", { class: "card-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "phones.list.title" }), " ", count), newExt),
      listError.el,
      h("div", { class: "table-scroll" }, h("table", { class: "table table-dense", testid: "phones-table" }, headRow(phoneCols), tbody), empty),
    ),
    h(
      "section",
      { class: "card card-groups" },
      h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "rg.title" }), newGroup),
      groupError.el,
      h("div", { class: "table-scroll" }, h("table", { class: "table table-dense", testid: "ringgroups-table" }, headRow(groupCols), gbody), gempty),
    ),
  );
  const el = h("div", { class: "page page-phones" }, tabs, directory, callsPane);

  /** showTab shows the pane the location hash names. */
  const showTab = () => {
    const tab = phonesTab(location.hash, watchCalls);
    directory.hidden = tab !== "directory";
    if (callsPane) callsPane.hidden = tab !== "calls";
    for (const a of tabs?.querySelectorAll("a") ?? []) {
      if (a.dataset.tab === tab) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  };
  window.addEventListener("hashchange", showTab);
  showTab();

  /**
   * actions are the Edit and Delete buttons of a row, after extra ones.
   * @param {() => void} edit
   * @param {() => void} remove
   * @param {...(HTMLElement | null)} extra
   */
  const actions = (edit, remove, ...extra) =>
    h(
      "td",
      { class: "col-actions" },
      h(
        "div",
        { class: "row-actions" },
        ...extra,
        h("button", { class: "btn btn-small", data: { action: "edit" }, text: i18n.t("phones.edit"), attrs: { type: "button" }, on: { click: edit } }),
        h("button", { class: "btn btn-small btn-danger-quiet", data: { action: "delete" }, text: i18n.t("phones.delete"), attrs: { type: "button" }, on: { click: remove } }),
      ),
    );

  /**
   * ownExtension reports whether e rings this user's own softphone: there
   * is no point calling oneself.
   * @param {Extension} e
   */
  const ownExtension = (e) =>
    (!!e.user && e.user.toLowerCase() === session.user.username.toLowerCase()) || (softphone?.extensions().some((x) => x.number === e.number) ?? false);

  /**
   * callButton rings e from the browser; null for the user's own
   * extension, and while the softphone is not registered (calls need
   * it). It is disabled while a call is in progress.
   * @param {Extension} e
   * @returns {HTMLButtonElement | null}
   */
  const callButton = (e) => {
    if (!softphone?.state().registered || ownExtension(e)) return null;
    return h(
      "button",
      {
        class: "btn btn-small btn-call",
        testid: "call-extension",
        data: { number: e.number },
        attrs: { type: "button", title: i18n.t("phones.call_title", { number: e.number }), disabled: softphone.busy() },
        on: { click: () => void softphone.call(e.number, e.name) },
      },
      handsetIcon("call-icon btn-call-icon"),
      h("span", { text: i18n.t("phones.call") }),
    );
  };

  /** syncCallButtons disables the Call buttons while a call is in progress. */
  const syncCallButtons = () => {
    const busy = softphone?.busy() ?? false;
    for (const b of tbody.querySelectorAll("[data-testid=call-extension]")) {
      if (b instanceof HTMLButtonElement) b.disabled = busy;
    }
  };

  /**
   * row is one extension's line.
   * @param {Phone} p
   */
  const row = (p) => {
    const e = p.extension;
    const state = phoneState(p);
    const when = lastSeen(p) || seen.get(e.number) || "";
    const devices = p.bindings.map((b) => h("div", { class: "binding", text: b.user_agent || i18n.t("phones.unknown_device"), attrs: { title: b.source } }));
    const contacts = p.bindings.map((b) =>
      h(
        "div",
        { class: "binding binding-contact" },
        h("span", { class: "mono", text: contactText(b.contact), attrs: { title: b.contact } }),
        b.transport ? h("span", { class: "tag tag-plain", text: b.transport.toUpperCase() }) : null,
      ),
    );
    const tr = h(
      "tr",
      { class: fresh.has(e.number) ? "row-fresh" : "", data: { number: e.number, state } },
      h("td", { class: "mono strong nowrap", text: e.number }),
      h(
        "td",
        { class: "col-name" },
        h("span", { text: e.name }),
        ...extensionTags(e).map((t) => h("span", { class: t.kind === "warn" ? "tag tag-warn" : "tag", testid: "phone-tag", text: i18n.t(t.key, t.vars) })),
      ),
      h("td", { text: e.department || "—" }),
      h("td", { class: e.user ? "mono" : "", text: e.user || "—" }),
      h("td", {}, h("span", { class: `badge ${STATE_BADGE[state]}`, testid: "phone-state", text: i18n.t(`phones.state.${state}`) })),
      h("td", { class: "col-device" }, ...(devices.length ? devices : ["—"])),
      h("td", { class: "col-contact" }, ...(contacts.length ? contacts : ["—"])),
      h("td", { class: "nowrap", text: when ? formatTime(when) : "—" }),
      admin
        ? actions(() => editExtension(e), () => removeExtension(e), callButton(e))
        : softphone
          ? h("td", { class: "col-actions" }, h("div", { class: "row-actions" }, callButton(e)))
          : null,
    );
    return tr;
  };

  /**
   * groupRow is one ring group's line.
   * @param {RingGroup} g
   */
  const groupRow = (g) =>
    h(
      "tr",
      { data: { number: g.number } },
      h("td", { class: "mono strong nowrap", text: g.number }),
      h("td", { text: g.name }),
      h("td", { text: i18n.t(`rg.strategy.${g.strategy}`) }),
      h(
        "td",
        {},
        ...g.members.map((m) => h("span", { class: "member mono", text: m, attrs: { title: phones.get(m)?.extension.name ?? "" } })),
      ),
      h("td", { class: "nowrap", text: i18n.t("unit.s", { n: g.ring_seconds }) }),
      admin ? actions(() => editGroup(g), () => removeGroup(g)) : null,
    );

  const render = () => {
    for (const p of phones.values()) {
      const t = lastSeen(p);
      if (t) seen.set(p.extension.number, t);
    }
    const list = [...phones.values()].sort((a, b) => byNumber(a.extension.number, b.extension.number));
    tbody.replaceChildren(...list.map(row));
    fresh.clear();
    empty.hidden = list.length > 0;
    const online = list.filter((p) => phoneState(p) !== "offline").length;
    count.textContent = i18n.t("phones.count", { n: list.length, online });
    renderGroups();
  };

  const renderGroups = () => {
    const list = [...groups].sort((a, b) => byNumber(a.number, b.number));
    gbody.replaceChildren(...list.map(groupRow));
    gempty.hidden = list.length > 0;
  };

  const loadGroups = async () => {
    try {
      const res = await client.request(REQUEST_TYPES.VOIP_RINGGROUPS_LIST, {});
      groups = res?.ring_groups ?? [];
      groupError.hide();
    } catch (err) {
      groupError.show(() => errorText(i18n, err));
    }
    renderGroups();
  };

  /** loadUsernames fills the editor's linked-user list (admins only). */
  const loadUsernames = async () => {
    if (usernames.length > 0) return;
    try {
      const res = await client.request(REQUEST_TYPES.USERS_LIST, {});
      usernames = (res?.users ?? []).filter((/** @type {{disabled: boolean}} */ u) => !u.disabled).map((/** @type {{username: string}} */ u) => u.username);
    } catch {
      // The list is a convenience; a username can still be typed.
    }
  };

  /**
   * upsertExtension shows a saved extension at once, before (or without)
   * its voip.phones event.
   * @param {Extension} e
   */
  const upsertExtension = (e) => {
    const p = phones.get(e.number);
    phones.set(e.number, p ? { ...p, extension: e } : { extension: e, online: false, bindings: [] });
    fresh.add(e.number);
    render();
  };

  /** @param {Extension} [e] */
  const editExtension = async (e) => {
    await loadUsernames();
    const saved = await openExtensionEditor({ i18n, client, ext: e, usernames });
    if (!saved) return;
    upsertExtension(saved);
    notices.show(() => i18n.t(e ? "phones.updated" : "phones.created", { number: saved.number }), "ok");
  };

  /** @param {Extension} e */
  const removeExtension = async (e) => {
    const ok = await confirmDialog(i18n, i18n.t("phones.confirm_delete", { number: e.number, name: e.name }), { danger: true, confirmKey: "phones.delete" });
    if (!ok) return;
    try {
      await client.request(REQUEST_TYPES.VOIP_EXTENSIONS_DELETE, { number: e.number });
      phones.delete(e.number);
      render();
      notices.show(() => i18n.t("phones.deleted", { number: e.number }), "ok");
    } catch (err) {
      notices.show(() => errorText(i18n, err), "error");
    }
  };

  /** @param {RingGroup} [g] */
  const editGroup = async (g) => {
    const saved = await openRingGroupEditor({ i18n, client, group: g });
    if (!saved) return;
    groups = [...groups.filter((x) => x.number !== saved.number), saved];
    renderGroups();
    notices.show(() => i18n.t(g ? "rg.updated" : "rg.created", { number: saved.number }), "ok");
  };

  /** @param {RingGroup} g */
  const removeGroup = async (g) => {
    const ok = await confirmDialog(i18n, i18n.t("rg.confirm_delete", { number: g.number, name: g.name }), { danger: true, confirmKey: "phones.delete" });
    if (!ok) return;
    try {
      await client.request(REQUEST_TYPES.VOIP_RINGGROUPS_DELETE, { number: g.number });
      groups = groups.filter((x) => x.number !== g.number);
      renderGroups();
      notices.show(() => i18n.t("rg.deleted", { number: g.number }), "ok");
    } catch (err) {
      notices.show(() => errorText(i18n, err), "error");
    }
  };

  newExt?.addEventListener("click", () => editExtension());
  newGroup?.addEventListener("click", () => editGroup());

  /** renderCalls shows the calls again with the directory's new names. */
  const renderCalls = () => {
    live?.render();
    records?.render();
  };

  const unsubscribe = client.subscribe(
    [TOPICS.PHONES],
    (ev) => {
      const number = ev.data?.phone?.extension?.number;
      const nameBefore = number ? nameOf(number) : "";
      const changed = applyPhoneEvent(phones, ev);
      if (changed) fresh.add(changed);
      else loadGroups().then(renderCalls); // a snapshot: first load, or back after a reconnect
      listError.hide();
      render();
      if (changed && nameOf(changed) !== nameBefore) renderCalls();
    },
    (err) => listError.show(() => errorText(i18n, err)),
  );
  render();
  // A call starting or ending enables the Call buttons; a registration
  // brings them (and tells which extensions are the user's own).
  let registered = softphone?.state().registered ?? false;
  const offSoftphone =
    softphone?.onChange(() => {
      const now = softphone.state().registered;
      if (now !== registered) {
        registered = now;
        render();
      } else {
        syncCallButtons();
      }
    }) ?? (() => {});

  return {
    el,
    relocalize() {
      render();
      listError.relocalize();
      groupError.relocalize();
      live?.relocalize();
      records?.relocalize();
    },
    destroy() {
      window.removeEventListener("hashchange", showTab);
      offSoftphone();
      unsubscribe();
      live?.destroy();
    },
  };
}
