// @ts-check
// The Meetings page, for admins and officials: create a meeting, and the
// meetings now, live from the "meetings" topic, each with a Join button.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { ErrorBox, confirmDialog, errorText, h } from "../ui.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */

/**
 * @typedef {object} Meeting
 * @property {number} id
 * @property {string} room
 * @property {string} title
 * @property {string} host
 * @property {string} created_at
 * @property {number} participants
 */

/**
 * mountMeetings builds the Meetings page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountMeetings(ctx) {
  const { client, i18n, notices, session } = ctx;

  /**
   * canModerate: admins and the meeting's host may end it and export its
   * attendance.
   * @param {Meeting} m
   */
  function canModerate(m) {
    return session.role === "admin" || session.user.username === m.host;
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
  const submit = h("button", { class: "btn btn-primary", testid: "meeting-create-submit", i18n: "meetings.create", attrs: { type: "submit" } });
  const form = h(
    "form",
    { class: "create-row", attrs: { novalidate: true } },
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "meetings.title" }), title),
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "meetings.passcode" }), passcode),
    h("div", { class: "field field-button" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hide();
    submit.disabled = true;
    try {
      /** @type {Record<string, unknown>} */
      const params = { title: title.value };
      if (passcode.value) params.passcode = passcode.value;
      const res = await client.request(REQUEST_TYPES.CONFERENCE_CREATE, params);
      title.value = "";
      passcode.value = "";
      notices.show(i18n.t("meetings.created", { room: res.meeting.room }), "ok");
      upsert(res.meeting);
    } catch (err) {
      error.show(() => errorText(i18n, err));
    } finally {
      submit.disabled = false;
    }
  });

  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", i18n: "meetings.none" });
  const table = h(
    "table",
    { class: "table", testid: "meetings-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { i18n: "meetings.col.title" }),
        h("th", { i18n: "meetings.col.room" }),
        h("th", { i18n: "meetings.col.host" }),
        h("th", { i18n: "meetings.col.people" }),
        h("th", {}),
      ),
    ),
    tbody,
  );

  /** @param {Meeting} m */
  function upsert(m) {
    meetings.set(m.room, m);
    render();
  }

  function render() {
    const rows = [...meetings.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    tbody.replaceChildren(
      ...rows.map((m) =>
        h(
          "tr",
          { data: { room: m.room } },
          h("td", {}, m.title, m.passcode ? h("span", { class: "tag", testid: "meeting-has-passcode", i18n: "meetings.has_passcode" }) : null),
          h("td", { class: "mono", text: m.room }),
          h("td", { text: m.host }),
          h("td", { text: String(m.participants ?? 0) }),
          h(
            "td",
            { class: "col-actions" },
            canModerate(m) ? h("a", { class: "btn btn-small", testid: "meeting-attendance", i18n: "meetings.attendance", attrs: { href: `/api/meetings/${m.room}/attendance.csv`, download: `attendance-${m.room}.csv` } }) : null,
            " ",
            endButton(m),
            " ",
            h("a", { class: "btn btn-primary btn-small", testid: "meeting-join", i18n: "meetings.join", attrs: { href: `#/meeting/${m.room}` } }),
          ),
        ),
      ),
    );
    empty.hidden = rows.length > 0;
    i18n.translate(tbody);
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
      if (ev.kind === "conference.meeting_ended" && data?.meeting) {
        meetings.delete(data.meeting.room);
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
    h("section", { class: "card" }, h("h2", { class: "card-title", i18n: "meetings.new" }), form),
    h("section", { class: "card card-fill" }, h("h2", { class: "card-title", i18n: "meetings.list" }), h("div", { class: "table-scroll" }, table), empty),
  );
  render();
  return {
    el,
    destroy: unsubscribe,
    relocalize: () => {
      render();
      error.relocalize();
    },
  };
}
