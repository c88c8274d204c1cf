// @ts-check
// The Users page (admin): a live table of console users from the "users"
// topic, a form to add one, and per-row actions: role, enable/disable,
// password reset and delete. Each change is confirmed first and each
// failure is explained in words.

import { REQUEST_TYPES, TOPICS } from "../protocol.js";
import { LANGS, LANG_NAMES } from "../i18n.js";
import { ErrorBox, confirmDialog, errorText, formatTime, h, openDialog } from "../ui.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */
/** @typedef {import("../ws.js").User} User */

/** Roles a console user can have. */
const ROLES = Object.freeze(["admin", "official", "facilities"]);

/**
 * applyUserEvent applies one event of the users topic to the map of users
 * by id. A snapshot replaces everything.
 * @param {Map<number, User>} users
 * @param {{kind: string, data: any}} ev
 */
export function applyUserEvent(users, ev) {
  switch (ev.kind) {
    case "snapshot":
      users.clear();
      for (const u of ev.data?.users ?? []) users.set(u.id, u);
      break;
    case "user.created":
    case "user.updated":
      if (ev.data?.user) users.set(ev.data.user.id, ev.data.user);
      break;
    case "user.deleted":
      if (ev.data?.user) users.delete(ev.data.user.id);
      break;
  }
}

/**
 * mountUsers builds the Users page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountUsers(ctx) {
  const { i18n, client, notices, session } = ctx;
  /** @type {Map<number, User>} */
  const users = new Map();

  /**
   * @param {string} key
   * @param {HTMLElement} control
   */
  const field = (key, control) => h("label", { class: "field" }, h("span", { class: "field-label", i18n: key }), control);
  const cUser = h("input", { testid: "user-create-username", attrs: { autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true, maxlength: 64 } });
  const cDisplay = h("input", { testid: "user-create-display", attrs: { autocomplete: "off", maxlength: 128 } });
  const cRole = h("select", { testid: "user-create-role" }, ...ROLES.map((r) => h("option", { i18n: `role.${r}`, attrs: { value: r } })));
  cRole.value = "official";
  const cPass = h("input", { testid: "user-create-password", attrs: { type: "password", autocomplete: "new-password", required: true } });
  const cLang = h("select", { testid: "user-create-language" }, ...LANGS.map((l) => h("option", { text: LANG_NAMES[l], attrs: { value: l, lang: l } })));
  cLang.value = i18n.lang;
  const cSubmit = h("button", { class: "btn btn-primary", testid: "user-create-submit", i18n: "users.create.submit", attrs: { type: "submit" } });
  const cError = new ErrorBox("user-create-error");
  const createForm = h(
    "form",
    { class: "create-row", attrs: { novalidate: true } },
    field("users.field.username", cUser),
    field("users.field.display_name", cDisplay),
    field("users.field.role", cRole),
    field("users.field.password", cPass),
    field("users.field.language", cLang),
    h("div", { class: "field field-button" }, cSubmit),
  );

  const tbody = h("tbody");
  const count = h("span", { class: "muted small" });
  const listError = new ErrorBox();
  const empty = h("p", { class: "muted empty", i18n: "users.empty", attrs: { hidden: true } });

  const el = h(
    "div",
    { class: "page page-users" },
    h("section", { class: "card" }, h("h2", { class: "card-title", i18n: "users.create.title" }), createForm, cError.el),
    h(
      "section",
      { class: "card card-fill" },
      h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "users.list.title" }), count),
      listError.el,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "table", testid: "users-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { i18n: "users.field.username" }),
              h("th", { i18n: "users.field.display_name" }),
              h("th", { i18n: "users.field.role" }),
              h("th", { i18n: "users.field.status" }),
              h("th", { i18n: "users.field.created" }),
              h("th", { class: "col-actions", i18n: "users.field.actions" }),
            ),
          ),
          tbody,
        ),
        empty,
      ),
    ),
  );

  /**
   * update sends users.update and reports the outcome.
   * @param {User} u
   * @param {Record<string, unknown>} change
   */
  const update = async (u, change) => {
    try {
      const res = await client.request(REQUEST_TYPES.USERS_UPDATE, { user_id: u.id, ...change });
      if (res?.user) users.set(res.user.id, res.user);
      notices.show(() => i18n.t("users.updated", { username: u.username }), "ok");
    } catch (err) {
      notices.show(() => errorText(i18n, err), "error");
    }
    render();
  };

  /**
   * @param {User} u
   * @param {HTMLSelectElement} sel
   */
  const changeRole = async (u, sel) => {
    const role = sel.value;
    const ok = await confirmDialog(i18n, i18n.t("users.confirm.role", { username: u.username, role: i18n.t(`role.${role}`) }));
    if (!ok) {
      sel.value = u.role;
      return;
    }
    await update(u, { role });
  };

  /** @param {User} u */
  const toggle = async (u) => {
    if (!u.disabled) {
      const ok = await confirmDialog(i18n, i18n.t("users.confirm.disable", { username: u.username }), { danger: true, confirmKey: "users.action.disable" });
      if (!ok) return;
    }
    await update(u, { disabled: !u.disabled });
  };

  /** @param {User} u */
  const resetPassword = async (u) => {
    const ok = await confirmDialog(i18n, i18n.t("users.confirm.reset", { username: u.username }), { confirmKey: "users.action.reset" });
    if (!ok) return;
    /** @type {{password?: string}} */
    let res;
    try {
      res = await client.request(REQUEST_TYPES.USERS_RESET_PASSWORD, { user_id: u.id });
    } catch (err) {
      notices.show(() => errorText(i18n, err), "error");
      return;
    }
    if (!res?.password) {
      notices.show(() => i18n.t("users.reset.done", { username: u.username }), "ok");
      return;
    }
    showPassword(u, res.password);
  };

  /**
   * showPassword shows a generated password once, with a copy button.
   * @param {User} u
   * @param {string} password
   */
  const showPassword = (u, password) => {
    const out = h("input", { class: "mono secret", testid: "reset-password-value", attrs: { readonly: true, value: password, "aria-label": u.username } });
    const status = h("p", { class: "muted small", attrs: { role: "status" } });
    const copy = h("button", {
      class: "btn btn-plain",
      i18n: "users.copy",
      attrs: { type: "button" },
      on: {
        click: async () => {
          out.select();
          try {
            await navigator.clipboard.writeText(password);
            status.textContent = i18n.t("users.copied");
          } catch {
            status.textContent = i18n.t("users.copy_failed");
          }
        },
      },
    });
    openDialog(i18n, {
      title: i18n.t("users.reset.title", { username: u.username }),
      testid: "reset-password-dialog",
      body: [h("p", { i18n: "users.reset.hint" }), h("div", { class: "copy-row" }, out, copy), status],
      buttons: [{ value: "close", key: "common.close", kind: "primary" }],
    });
    queueMicrotask(() => out.select());
  };

  /** @param {User} u */
  const remove = async (u) => {
    const ok = await confirmDialog(i18n, i18n.t("users.confirm.delete", { username: u.username }), { danger: true, confirmKey: "users.action.delete" });
    if (!ok) return;
    try {
      await client.request(REQUEST_TYPES.USERS_DELETE, { user_id: u.id });
      users.delete(u.id);
      notices.show(() => i18n.t("users.deleted", { username: u.username }), "ok");
    } catch (err) {
      notices.show(() => errorText(i18n, err), "error");
    }
    render();
  };

  /**
   * @param {User} u
   * @returns {HTMLTableRowElement}
   */
  const row = (u) => {
    const me = u.id === session.user.id;
    const role = h(
      "select",
      { class: "select-compact", attrs: { "aria-label": i18n.t("users.role_for", { username: u.username }) } },
      ...ROLES.map((r) => h("option", { text: i18n.t(`role.${r}`), attrs: { value: r } })),
    );
    role.value = u.role;
    role.addEventListener("change", () => changeRole(u, role));
    const tr = h(
      "tr",
      { class: u.disabled ? "row-disabled" : "", data: { username: u.username, userId: String(u.id) } },
      h("td", {}, h("span", { class: "strong mono", text: u.username }), me ? h("span", { class: "tag", text: i18n.t("users.you") }) : null),
      h("td", { text: u.display_name || "—" }),
      h("td", {}, role),
      h(
        "td",
        {},
        h("span", {
          class: `badge ${u.disabled ? "badge-disabled" : "badge-running"}`,
          text: i18n.t(u.disabled ? "users.status.disabled" : "users.status.enabled"),
        }),
      ),
      h("td", { class: "nowrap", text: formatTime(u.created_at) }),
      h(
        "td",
        { class: "col-actions" },
        h(
          "div",
          { class: "row-actions" },
          h("button", {
            class: "btn btn-small",
            data: { action: u.disabled ? "enable" : "disable" },
            text: i18n.t(u.disabled ? "users.action.enable" : "users.action.disable"),
            attrs: { type: "button", disabled: me && !u.disabled },
            on: { click: () => toggle(u) },
          }),
          h("button", { class: "btn btn-small", data: { action: "reset" }, text: i18n.t("users.action.reset"), attrs: { type: "button" }, on: { click: () => resetPassword(u) } }),
          h("button", {
            class: "btn btn-small btn-danger-quiet",
            data: { action: "delete" },
            text: i18n.t("users.action.delete"),
            attrs: { type: "button", disabled: me },
            on: { click: () => remove(u) },
          }),
        ),
      ),
    );
    return tr;
  };

  const render = () => {
    const list = [...users.values()].sort((a, b) => a.username.localeCompare(b.username));
    tbody.replaceChildren(...list.map(row));
    empty.hidden = list.length > 0;
    count.textContent = i18n.t("users.count", { n: list.length });
  };

  createForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    cError.hide();
    const username = cUser.value.trim();
    if (!username || !cPass.value) {
      cError.show(() => i18n.t("err.invalid_params", { detail: `${i18n.t("users.field.username")}, ${i18n.t("users.field.password")}` }));
      return;
    }
    cSubmit.disabled = true;
    try {
      const res = await client.request(REQUEST_TYPES.USERS_CREATE, {
        username,
        display_name: cDisplay.value.trim(),
        role: cRole.value,
        password: cPass.value,
        language: cLang.value,
      });
      if (res?.user) users.set(res.user.id, res.user);
      render();
      notices.show(() => i18n.t("users.created", { username }), "ok");
      createForm.reset();
      cRole.value = "official";
      cLang.value = i18n.lang;
      cUser.focus();
    } catch (err) {
      cError.show(() => errorText(i18n, err));
    } finally {
      cSubmit.disabled = false;
    }
  });

  const unsubscribe = client.subscribe(
    [TOPICS.USERS],
    (ev) => {
      applyUserEvent(users, ev);
      listError.hide();
      render();
    },
    (err) => listError.show(() => errorText(i18n, err)),
  );
  render();

  return {
    el,
    relocalize() {
      render();
      cError.relocalize();
      listError.relocalize();
    },
    destroy: unsubscribe,
  };
}
