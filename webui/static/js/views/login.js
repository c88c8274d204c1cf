// @ts-check
// The login page. It posts the credentials to /api/login; the server sets an
// HttpOnly session cookie that the websocket then uses, so the page never
// sees or keeps the token. Every failure is explained in a sentence.

import { errorText, h, langSwitch } from "../ui.js";

/** @typedef {import("../i18n.js").I18n} I18n */

/**
 * loginErrorText explains a failed POST /api/login.
 * @param {I18n} i18n
 * @param {number} status HTTP status.
 * @param {string} code the error code from the body, or "".
 * @param {string | null} retryAfter the Retry-After header.
 * @returns {string}
 */
export function loginErrorText(i18n, status, code, retryAfter) {
  if (code === "auth_failed" || (!code && status === 401)) return i18n.t("login.auth_failed");
  if (code === "locked_out" || (!code && status === 429)) {
    const secs = Number(retryAfter);
    if (!Number.isFinite(secs) || secs <= 0) return i18n.t("err.locked_out");
    const minutes = Math.max(1, Math.ceil(secs / 60));
    return minutes === 1 ? i18n.t("login.locked_out_one") : i18n.t("login.locked_out", { minutes });
  }
  if (code) return errorText(i18n, { code, message: "" });
  return i18n.t("err.http", { status });
}

/**
 * mountLogin builds the login page.
 * @param {object} ctx
 * @param {I18n} ctx.i18n
 * @param {string} ctx.notice dictionary key of a message above the form, or "".
 * @param {() => void} ctx.onLoggedIn called after the server accepted the password.
 * @returns {{el: HTMLElement, destroy: () => void, relocalize: () => void, failed: (msg: string) => void}}
 */
export function mountLogin(ctx) {
  const { i18n } = ctx;
  const username = h("input", {
    testid: "login-username",
    attrs: { name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true, autofocus: true },
  });
  const password = h("input", { testid: "login-password", attrs: { name: "password", type: "password", autocomplete: "current-password", required: true } });
  const error = h("p", { class: "form-error", testid: "login-error", attrs: { role: "alert", hidden: true } });
  const notice = h("p", { class: "form-notice", testid: "login-notice", attrs: { hidden: !ctx.notice } });
  if (ctx.notice) notice.dataset.i18n = ctx.notice;
  const submit = h("button", { class: "btn btn-primary btn-block", testid: "login-submit", i18n: "login.submit", attrs: { type: "submit" } });
  const lang = langSwitch(i18n);

  /** @type {(() => string) | null} */
  let explain = null;
  /** @param {(() => string) | null} fn */
  const showError = (fn) => {
    explain = fn;
    error.textContent = fn ? fn() : "";
    error.hidden = !fn;
  };
  /** @param {boolean} on */
  const busy = (on) => {
    submit.disabled = on;
    submit.dataset.i18n = on ? "login.busy" : "login.submit";
    submit.textContent = i18n.t(submit.dataset.i18n);
  };

  const form = h(
    "form",
    { class: "login-form stack", attrs: { novalidate: true } },
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "login.username" }), username),
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "login.password" }), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    notice.hidden = true;
    if (!username.value.trim() || !password.value) {
      showError(() => i18n.t("login.missing"));
      return;
    }
    showError(null);
    busy(true);
    /** @type {Response} */
    let res;
    try {
      res = await fetch("/api/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: username.value.trim(), password: password.value }),
      });
    } catch {
      busy(false);
      showError(() => i18n.t("login.unreachable"));
      return;
    }
    if (res.ok) {
      password.value = "";
      // Stay busy: the app replaces this page once the websocket is in.
      ctx.onLoggedIn();
      return;
    }
    let code = "";
    try {
      const body = await res.json();
      code = typeof body?.error?.code === "string" ? body.error.code : "";
    } catch {
      // Not JSON (a proxy's error page, for instance): use the status.
    }
    const status = res.status;
    const retryAfter = res.headers.get("Retry-After");
    busy(false);
    showError(() => loginErrorText(i18n, status, code, retryAfter));
    password.select();
  });

  const el = h(
    "div",
    { class: "login-page" },
    h(
      "div",
      { class: "login-card" },
      h(
        "div",
        { class: "login-head" },
        h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), h("span", { i18n: "app.name" })),
        lang.el,
      ),
      h("p", { class: "muted", i18n: "app.tagline" }),
      h("h1", { class: "login-title", testid: "page-title", i18n: "login.title" }),
      h("p", { class: "muted small", i18n: "login.subtitle" }),
      notice,
      form,
      h("p", { class: "muted small login-foot", i18n: "login.footer" }),
    ),
  );
  i18n.translate(el);
  queueMicrotask(() => username.focus());

  return {
    el,
    destroy() {
      lang.destroy();
    },
    relocalize() {
      if (explain) error.textContent = explain();
    },
    failed() {
      busy(false);
      showError(() => i18n.t("login.session_ended"));
    },
  };
}
