// @ts-check
// The top bar: product name, the pages this role may use, the live
// connection state, the language switch, the signed-in user, "change
// password" and "log out".

import { REQUEST_TYPES } from "./protocol.js";
import { errorText, h, langSwitch } from "./ui.js";

/** @typedef {import("./app.js").AppContext} AppContext */
/** @typedef {import("./app.js").Route} Route */
/** @typedef {import("./app.js").Session} Session */
/** @typedef {import("./ws.js").ConnState} ConnState */

/**
 * createTopbar builds the top bar.
 * @param {AppContext & {routes: Route[], onLogout: () => void}} ctx
 * @returns {{el: HTMLElement, setActive: (name: string) => void, setUser: (s: Session) => void, relocalize: () => void, destroy: () => void}}
 */
export function createTopbar(ctx) {
  const { i18n, client } = ctx;

  /** @type {Map<string, HTMLAnchorElement>} */
  const links = new Map();
  for (const r of ctx.routes) {
    links.set(r.name, h("a", { class: "nav-link", testid: `nav-${r.name}`, i18n: r.nav, attrs: { href: `#/${r.name}` } }));
  }
  const nav = h("nav", { class: "nav", i18nAriaLabel: "nav.label" }, ...links.values());

  const connText = h("span", { class: "conn-text" });
  const conn = h(
    "div",
    { class: "conn", testid: "conn-state", i18nTitle: "conn.label", attrs: { role: "status", "aria-live": "polite" } },
    h("span", { class: "conn-dot", attrs: { "aria-hidden": "true" } }),
    connText,
  );
  /** @param {ConnState} s */
  const showConn = (s) => {
    conn.dataset.state = s;
    connText.dataset.i18n = `conn.${s}`;
    connText.textContent = i18n.t(`conn.${s}`);
  };
  const offState = client.onState(showConn);

  const lang = langSwitch(i18n);

  const userName = h("span", { class: "user-name" });
  const userRole = h("span", { class: "role-badge" });
  const userMenu = h(
    "div",
    { class: "user-menu", testid: "user-menu" },
    h("span", { class: "user-id", i18nTitle: "top.signed_in_as" }, userName, userRole),
    h("button", {
      class: "btn btn-quiet",
      testid: "change-password",
      i18n: "top.change_password",
      attrs: { type: "button" },
      on: { click: () => changePasswordDialog(ctx) },
    }),
    h("button", { class: "btn btn-quiet", testid: "logout", i18n: "top.logout", attrs: { type: "button" }, on: { click: () => ctx.onLogout() } }),
  );

  /** @type {Session} */
  let session = ctx.session;
  // A guest has no password to change.
  const changePw = userMenu.querySelector("[data-testid=change-password]");
  if (changePw instanceof HTMLElement) changePw.hidden = session.role === "guest";
  const showUser = () => {
    userName.textContent = session.user.display_name || session.user.username;
    userName.title = session.user.username;
    userRole.dataset.role = session.role;
    userRole.textContent = i18n.t(`role.${session.role}`);
  };
  showUser();

  const el = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", attrs: { href: "#/system" } }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), h("span", { i18n: "app.name" })),
    nav,
    h("div", { class: "topbar-right" }, conn, lang.el, userMenu),
  );
  i18n.translate(el);

  return {
    el,
    setActive(name) {
      for (const [n, a] of links) {
        if (n === name) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
      }
    },
    setUser(s) {
      session = s;
      showUser();
    },
    relocalize() {
      showConn(client.state);
      showUser();
    },
    destroy() {
      offState();
      lang.destroy();
    },
  };
}

/**
 * changePasswordDialog asks for the current password and the new one twice
 * and changes it. It stays open and explains the problem when it fails.
 * @param {AppContext} ctx
 */
function changePasswordDialog(ctx) {
  const { i18n, client, notices } = ctx;
  /**
   * @param {string} key
   * @param {string} testid
   * @param {string} autocomplete
   */
  const field = (key, testid, autocomplete) => {
    const input = h("input", { testid, attrs: { type: "password", autocomplete, required: true } });
    return { input, label: h("label", { class: "field" }, h("span", { class: "field-label", i18n: key }), input) };
  };
  const cur = field("pw.current", "pw-current", "current-password");
  const nw = field("pw.new", "pw-new", "new-password");
  const rep = field("pw.repeat", "pw-repeat", "new-password");
  const error = h("p", { class: "form-error", testid: "pw-error", attrs: { role: "alert", hidden: true } });
  const submit = h("button", { class: "btn btn-primary", testid: "pw-submit", i18n: "pw.submit", attrs: { type: "submit" } });
  const cancel = h("button", { class: "btn btn-plain", i18n: "common.cancel", attrs: { type: "button" } });
  const form = h(
    "form",
    { class: "stack" },
    h("h2", { class: "dialog-title", i18n: "pw.title" }),
    cur.label,
    nw.label,
    rep.label,
    error,
    h("div", { class: "dialog-actions" }, cancel, submit),
  );
  const dlg = h("dialog", { class: "dialog", testid: "pw-dialog" }, form);
  i18n.translate(dlg);
  /** @param {string} text */
  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  cancel.addEventListener("click", () => dlg.close());
  dlg.addEventListener("close", () => dlg.remove());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!cur.input.value || !nw.input.value || !rep.input.value) return fail(i18n.t("pw.missing"));
    if (nw.input.value !== rep.input.value) return fail(i18n.t("pw.mismatch"));
    submit.disabled = true;
    try {
      await client.request(REQUEST_TYPES.ACCOUNT_CHANGE_PASSWORD, { current: cur.input.value, new: nw.input.value });
      dlg.close();
      notices.show(() => i18n.t("pw.done"), "ok");
    } catch (err) {
      const code = /** @type {{code?: string}} */ (err).code;
      fail(code === "auth_failed" ? i18n.t("pw.current_wrong") : errorText(i18n, err));
    } finally {
      submit.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
}
