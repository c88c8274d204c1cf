// @ts-check
// The Meetings page, for admins and officials: create a meeting (now or
// scheduled, with co-hosts), "My meetings" (those you host or co-host: live
// first, then scheduled by time) and all live meetings, both kept current
// from the "meetings" topic, each with a Join button. After creating a
// meeting its host sees how desk phones dial in (the list never says).

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { ErrorBox, confirmDialog, errorText, h } from "../ui.js";
import { dialInLine, phoneIcon } from "./meeting-phones.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */
/** @typedef {import("../i18n.js").I18n} I18n */
/** @typedef {import("./meeting-phones.js").DialIn} DialIn */

/**
 * @typedef {object} Meeting
 * @property {number} id
 * @property {string} room
 * @property {string} title
 * @property {string} host
 * @property {string} created_at
 * @property {number} participants
 * @property {boolean} [passcode]
 * @property {string} [scheduled_at]
 * @property {string[]} [co_hosts]
 * @property {boolean} [lobby]
 */

/**
 * hostedBy reports whether user hosts the meeting: its creator or a
 * co-host (usernames match case-insensitively).
 * @param {Meeting} m
 * @param {string} user
 * @returns {boolean}
 */
export function hostedBy(m, user) {
  const u = user.toLowerCase();
  return m.host.toLowerCase() === u || (m.co_hosts ?? []).some((c) => c.toLowerCase() === u);
}

/**
 * sortMine orders "My meetings" as the server's conference.list {mine}
 * does: live ones first (newest first), then scheduled ones by their time,
 * then the rest, newest first.
 * @param {Meeting[]} ms
 * @returns {Meeting[]}
 */
export function sortMine(ms) {
  /** @param {Meeting} m */
  const rank = (m) => ((m.participants ?? 0) > 0 ? 0 : m.scheduled_at ? 1 : 2);
  return [...ms].sort((a, b) => {
    const d = rank(a) - rank(b);
    if (d !== 0) return d;
    if (rank(a) === 1) return Date.parse(a.scheduled_at ?? "") - Date.parse(b.scheduled_at ?? "");
    return b.created_at.localeCompare(a.created_at);
  });
}

/**
 * parseCoHosts splits the co-hosts field: usernames separated by commas,
 * semicolons or spaces (also the Chinese comma).
 * @param {string} s
 * @returns {string[]}
 */
export function parseCoHosts(s) {
  return s
    .split(/[\s,;，、]+/)
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/**
 * mountMeetings builds the Meetings page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountMeetings(ctx) {
  const { client, i18n, notices, session } = ctx;

  /**
   * canModerate: admins and the meeting's hosts may end it.
   * @param {Meeting} m
   */
  function canModerate(m) {
    return session.role === "admin" || hostedBy(m, session.user.username);
  }

  /**
   * canExport: admins and the meeting's hosts may export its attendance.
   * @param {Meeting} m
   */
  function canExport(m) {
    return session.role === "admin" || hostedBy(m, session.user.username);
  }

  /**
   * when shows a meeting's scheduled time in the reader's language and
   * time zone, or "Now" for one held ad hoc.
   * @param {Meeting} m
   */
  function when(m) {
    if (!m.scheduled_at) return i18n.t("meetings.ad_hoc");
    const d = new Date(m.scheduled_at);
    if (Number.isNaN(d.getTime())) return m.scheduled_at;
    return d.toLocaleString(i18n.lang, { dateStyle: "medium", timeStyle: "short" });
  }

  /**
   * endButton lets an admin, or the meeting's host, end it from the list.
   * @param {Meeting} m
   */
  function endButton(m) {
    if (!canModerate(m)) return null;
    const b = h("button", { class: "btn btn-small btn-danger-quiet", testid: "meeting-end-row", i18n: "meeting.end", attrs: { type: "button" } });
    b.addEventListener("click", async () => {
      if (!(await confirmDialog(i18n, i18n.t("meeting.end_confirm"), { danger: true }))) return;
      try {
        await client.request(REQUEST_TYPES.CONFERENCE_END, { room: m.room });
      } catch (err) {
        error.show(() => errorText(i18n, err));
      }
    });
    return b;
  }
  /** @type {Map<string, Meeting>} */
  const meetings = new Map();
  const error = new ErrorBox("meetings-error");
  const title = h("input", { testid: "meeting-create-title", i18nPlaceholder: "meetings.title_ph", attrs: { maxlength: 120, required: true } });
  const passcode = h("input", { testid: "meeting-create-passcode", i18nPlaceholder: "meetings.passcode_ph", attrs: { maxlength: 16, autocomplete: "off" } });
  const schedule = h("input", { testid: "meeting-create-when", attrs: { type: "datetime-local" } });
  const cohosts = h("input", { testid: "meeting-create-cohosts", i18nPlaceholder: "meetings.cohosts_ph", attrs: { autocomplete: "off", spellcheck: "false" } });
  const submit = h("button", { class: "btn btn-primary", testid: "meeting-create-submit", i18n: "meetings.create", attrs: { type: "submit" } });
  const form = h(
    "form",
    { class: "create-row", attrs: { novalidate: true } },
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "meetings.title" }), title),
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "meetings.passcode" }), passcode),
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "meetings.schedule" }), schedule),
    h("label", { class: "field field-wide" }, h("span", { class: "field-label", i18n: "meetings.cohosts" }), cohosts),
    h("div", { class: "field field-button" }, submit),
  );
  const created = createdBox(i18n);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hide();
    submit.disabled = true;
    try {
      /** @type {Record<string, unknown>} */
      const params = { title: title.value };
      if (passcode.value) params.passcode = passcode.value;
      if (schedule.value) {
        // datetime-local is the reader's local time; send it as UTC.
        const at = new Date(schedule.value);
        if (Number.isNaN(at.getTime())) {
          error.show(() => i18n.t("meetings.schedule_bad"));
          return;
        }
        params.scheduled_at = at.toISOString();
      }
      const co = parseCoHosts(cohosts.value);
      if (co.length > 0) params.co_hosts = co;
      const res = await client.request(REQUEST_TYPES.CONFERENCE_CREATE, params);
      title.value = "";
      passcode.value = "";
      schedule.value = "";
      cohosts.value = "";
      notices.show(() => i18n.t("meetings.created", { room: res.meeting.room }), "ok");
      created.show(res.meeting, res.dial_in);
      upsert(res.meeting);
    } catch (err) {
      error.show(() => errorText(i18n, err));
    } finally {
      submit.disabled = false;
    }
  });

  /** @param {string} testid */
  const meetingTable = (testid) => {
    const body = h("tbody");
    const table = h(
      "table",
      { class: "table", testid },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { i18n: "meetings.col.title" }),
          h("th", { i18n: "meetings.col.when" }),
          h("th", { i18n: "meetings.col.room" }),
          h("th", { i18n: "meetings.col.host" }),
          h("th", { i18n: "meetings.col.people" }),
          h("th", {}),
        ),
      ),
      body,
    );
    return { table, body };
  };
  const all = meetingTable("meetings-table");
  const mine = meetingTable("my-meetings-table");
  const tbody = all.body;
  const empty = h("p", { class: "muted empty", i18n: "meetings.none" });
  const mineEmpty = h("p", { class: "muted empty", testid: "my-meetings-empty", i18n: "meetings.mine_none" });

  /**
   * Live media figures by room, from conference.stats events.
   * @type {Map<string, {id: string, name: string, in_kbps: number, out_kbps: number, loss_pct: number, rtt_ms: number}[]>}
   */
  const stats = new Map();

  /**
   * statsRow is the figures of a live meeting's participants, under its row.
   * @param {Meeting} m
   */
  function statsRow(m) {
    const list = stats.get(m.room);
    if (!list || list.length === 0 || (m.participants ?? 0) === 0) return null;
    const items = list.map((p) =>
      h("li", {
        text: i18n.t("meetings.stats_line", { name: p.name, in: String(p.in_kbps), out: String(p.out_kbps), loss: p.loss_pct.toFixed(1), rtt: p.rtt_ms > 0 ? String(Math.round(p.rtt_ms)) : "–" }),
      }),
    );
    return h(
      "tr",
      { class: "meeting-stats", testid: "meeting-stats", data: { room: m.room } },
      h("td", { attrs: { colspan: "6" } }, h("span", { class: "muted", text: i18n.t("meetings.stats_label") }), h("ul", { class: "stats-list" }, ...items)),
    );
  }

  /** @param {Meeting} m */
  function upsert(m) {
    meetings.set(m.room, m);
    render();
  }

  /** @param {Meeting} m */
  function row(m) {
    const me = session.user.username.toLowerCase();
    const coHost = m.host.toLowerCase() !== me && hostedBy(m, me);
    return h(
      "tr",
      { data: { room: m.room } },
      h(
        "td",
        {},
        m.title,
        (m.participants ?? 0) > 0 ? h("span", { class: "tag tag-live", testid: "meeting-live", i18n: "meetings.live" }) : null,
        m.passcode ? h("span", { class: "tag", testid: "meeting-has-passcode", i18n: "meetings.has_passcode" }) : null,
        coHost ? h("span", { class: "tag", testid: "meeting-cohost", i18n: "meetings.cohost_tag" }) : null,
      ),
      h("td", { class: "nowrap", testid: "meeting-when", text: when(m), attrs: { title: m.scheduled_at ?? "" } }),
      h("td", { class: "mono", text: m.room }),
      h("td", { text: [m.host, ...(m.co_hosts ?? [])].join(", ") }),
      h("td", { text: String(m.participants ?? 0) }),
      h(
        "td",
        { class: "col-actions" },
        canExport(m) ? h("a", { class: "btn btn-small", testid: "meeting-attendance", i18n: "meetings.attendance", attrs: { href: `/api/meetings/${m.room}/attendance.csv`, download: `attendance-${m.room}.csv` } }) : null,
        " ",
        endButton(m),
        " ",
        h("a", { class: "btn btn-primary btn-small", testid: "meeting-join", i18n: "meetings.join", attrs: { href: `#/meeting/${m.room}` } }),
      ),
    );
  }

  function render() {
    const rows = [...meetings.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    tbody.replaceChildren(...rows.flatMap((m) => [row(m), statsRow(m)].filter((r) => r !== null)));
    empty.hidden = rows.length > 0;
    const my = sortMine(rows.filter((m) => hostedBy(m, session.user.username)));
    mine.body.replaceChildren(...my.map(row));
    mineEmpty.hidden = my.length > 0;
    mine.table.hidden = my.length === 0;
    i18n.translate(tbody);
    i18n.translate(mine.body);
  }

  const unsubscribe = client.subscribe(
    [TOPICS.MEETINGS],
    (ev) => {
      const data = /** @type {any} */ (ev.data);
      if (ev.kind === "snapshot") {
        meetings.clear();
        for (const m of data.meetings ?? []) meetings.set(m.room, m);
        render();
        return;
      }
      if (ev.kind === "conference.stats" && data?.room) {
        stats.set(data.room, data.participants ?? []);
        const m = meetings.get(data.room);
        const old = tbody.querySelector(`tr.meeting-stats[data-room="${CSS.escape(data.room)}"]`);
        const next = m ? statsRow(m) : null;
        if (old && next) old.replaceWith(next);
        else if (next) render();
        return;
      }
      if (ev.kind === "conference.meeting_ended" && data?.meeting) {
        meetings.delete(data.meeting.room);
        stats.delete(data.meeting.room);
        render();
        return;
      }
      if (data?.meeting) upsert(data.meeting);
    },
    (err) => error.show(() => errorText(i18n, err)),
  );

  const el = h(
    "div",
    { class: "page page-meetings" },
    error.el,
    h("section", { class: "card" }, h("h2", { class: "card-title", i18n: "meetings.new" }), form, created.el),
    h("section", { class: "card", testid: "my-meetings" }, h("h2", { class: "card-title", i18n: "meetings.mine" }), h("div", { class: "table-scroll" }, mine.table), mineEmpty),
    h("section", { class: "card card-fill" }, h("h2", { class: "card-title", i18n: "meetings.all" }), h("div", { class: "table-scroll" }, all.table), empty),
  );
  render();
  return {
    el,
    destroy: unsubscribe,
    relocalize: () => {
      render();
      error.relocalize();
      created.relocalize();
    },
  };
}

/**
 * createdBox confirms a meeting just created to its host, with its
 * dial-in number and PIN (data-testid created-dialin), until closed or
 * the next one is created.
 * @param {I18n} i18n
 * @returns {{el: HTMLElement, show: (m: Meeting, d: DialIn | undefined) => void, relocalize: () => void}}
 */
function createdBox(i18n) {
  const el = h("div", { class: "created-dialin", testid: "created-dialin", attrs: { role: "status", hidden: true } });
  /** @type {{m: Meeting, d: DialIn} | null} */
  let shown = null;
  const render = () => {
    el.hidden = !shown;
    if (!shown) return el.replaceChildren();
    const { m, d } = shown;
    const close = h("button", { class: "btn btn-small", testid: "created-dialin-close", i18n: "common.close", attrs: { type: "button" } });
    close.addEventListener("click", () => {
      shown = null;
      render();
    });
    el.replaceChildren(
      phoneIcon("phone-icon created-dialin-icon"),
      h(
        "div",
        { class: "created-dialin-body" },
        h("p", { class: "created-dialin-line" }, h("span", { class: "created-dialin-title", text: i18n.t("meetings.created", { room: m.room }) }), " ", dialInLine(i18n, d)),
        h("p", { class: "muted small", text: i18n.t("meetings.dialin_hint") }),
      ),
      h("div", { class: "created-dialin-actions" }, h("a", { class: "btn btn-primary btn-small", testid: "created-join", text: i18n.t("meetings.join"), attrs: { href: `#/meeting/${m.room}` } }), close),
    );
    i18n.translate(el);
  };
  return {
    el,
    show: (m, d) => {
      shown = d?.number && d.pin ? { m, d } : null;
      render();
    },
    relocalize: render,
  };
}
