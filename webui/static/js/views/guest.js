// @ts-check
// The guest page (#/guest/TOKEN): someone without an account opened an
// invite link. It shows the meeting's title, asks for a name and, when the
// meeting has one, the passcode, and posts them to /api/guest. The server
// answers with a guest session (an HttpOnly cookie, as for a login), and
// the app then opens the meeting, where the guest waits in the lobby.

import { formatTime, h, langSwitch } from "../ui.js";

/** @typedef {import("../i18n.js").I18n} I18n */

/**
 * tokenFromHash reads the invite token of "#/guest/TOKEN".
 * @param {string} hash
 * @returns {string}
 */
export function tokenFromHash(hash) {
  const m = /^#\/guest\/([A-Za-z0-9_-]{20,64})$/.exec(hash);
  return m ? m[1] : "";
}

/**
 * guestErrorKey picks the sentence for a refused invite or sign-in.
 * @param {number} status HTTP status.
 * @param {string} code the error code from the body, or "".
 * @param {string} message the server's sentence, or "".
 * @param {boolean} typedPasscode whether a passcode was sent.
 * @returns {string} a dictionary key.
 */
export function guestErrorKey(status, code, message, typedPasscode) {
  if (status === 410) return "guest.expired";
  if (code === "not_found" || status === 404) return /ended/.test(message) ? "guest.ended" : "guest.invalid";
  if (code === "locked_out" || status === 429) return "meeting.passcode_locked";
  if (code === "auth_failed" || status === 401) return typedPasscode ? "meeting.passcode_wrong" : "meeting.passcode_needed";
  if (code === "invalid_params") return "guest.name_needed";
  return "err.internal_error";
}

/**
 * postJSON posts a JSON body and returns the status and the decoded body.
 * @param {string} url
 * @param {unknown} body
 * @returns {Promise<{status: number, body: any}>}
 */
async function postJSON(url, body) {
  const res = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await res.json();
  } catch {
    // An empty or non-JSON body: the status says enough.
  }
  return { status: res.status, body: data };
}

/**
 * mountGuest builds the guest page.
 * @param {object} ctx
 * @param {I18n} ctx.i18n
 * @param {string} ctx.token the invite token from the link.
 * @param {(room: string) => void} ctx.onSignedIn called once the guest session is set.
 * @returns {{el: HTMLElement, destroy: () => void, relocalize: () => void}}
 */
export function mountGuest(ctx) {
  const { i18n, token } = ctx;
  const title = h("p", { class: "guest-meeting", testid: "guest-meeting" });
  const expires = h("p", { class: "muted small", testid: "guest-expires" });
  const name = h("input", { testid: "guest-name", i18nPlaceholder: "guest.name_ph", attrs: { maxlength: 64, autocomplete: "name", required: true } });
  const passcode = h("input", { testid: "guest-passcode", attrs: { maxlength: 16, autocomplete: "off", inputmode: "numeric" } });
  const passcodeField = h("label", { class: "field", attrs: { hidden: true } }, h("span", { class: "field-label", i18n: "meeting.passcode" }), passcode);
  const error = h("p", { class: "form-error", testid: "guest-error", attrs: { role: "alert", hidden: true } });
  const submit = h("button", { class: "btn btn-primary btn-block", testid: "guest-continue", i18n: "guest.continue", attrs: { type: "submit" } });
  const form = h(
    "form",
    { class: "login-form stack", attrs: { novalidate: true, hidden: true } },
    h("label", { class: "field" }, h("span", { class: "field-label", i18n: "guest.name" }), name),
    passcodeField,
    submit,
  );
  const checking = h("p", { class: "muted", testid: "guest-checking", i18n: "guest.checking" });
  const lang = langSwitch(i18n);
  const el = h(
    "div",
    { class: "login-page guest-page", testid: "guest-page" },
    h(
      "div",
      { class: "login-card" },
      h("div", { class: "login-head" }, h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), h("span", { i18n: "app.name" })), lang.el),
      h("h1", { class: "login-title", testid: "page-title", i18n: "page.guest" }),
      h("p", { class: "muted", i18n: "guest.invited" }),
      title,
      expires,
      checking,
      error,
      form,
    ),
  );

  /** @type {(() => string) | null} */
  let explain = null;
  /** @param {(() => string) | null} fn */
  const showError = (fn) => {
    explain = fn;
    error.textContent = fn ? fn() : "";
    error.hidden = !fn;
  };
  let expiresAt = "";
  const showExpiry = () => {
    expires.textContent = expiresAt ? i18n.t("guest.expires", { time: formatTime(expiresAt) }) : "";
  };

  async function load() {
    try {
      const { status, body } = await postJSON("/api/guest/invite", { token });
      checking.hidden = true;
      if (status !== 200) {
        const key = guestErrorKey(status, body?.error?.code ?? "", body?.error?.message ?? "", false);
        showError(() => i18n.t(key));
        return;
      }
      title.textContent = body.title;
      expiresAt = body.expires_at;
      showExpiry();
      passcodeField.hidden = !body.passcode;
      form.hidden = false;
      name.focus();
    } catch {
      checking.hidden = true;
      showError(() => i18n.t("err.disconnected"));
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) {
      showError(() => i18n.t("guest.name_needed"));
      name.focus();
      return;
    }
    showError(null);
    submit.disabled = true;
    const typed = passcode.value;
    try {
      const { status, body } = await postJSON("/api/guest", { token, name: name.value.trim(), passcode: typed });
      if (status === 200) {
        ctx.onSignedIn(body.room);
        return;
      }
      const key = guestErrorKey(status, body?.error?.code ?? "", body?.error?.message ?? "", typed !== "");
      showError(() => i18n.t(key));
      if (key.startsWith("meeting.passcode")) {
        passcodeField.hidden = false;
        passcode.value = "";
        passcode.focus();
      }
      if (key === "guest.expired" || key === "guest.invalid" || key === "guest.ended") form.hidden = true;
    } catch {
      showError(() => i18n.t("err.disconnected"));
    } finally {
      submit.disabled = false;
    }
  });

  i18n.translate(el);
  void load();
  return {
    el,
    destroy: () => lang.destroy(),
    relocalize: () => {
      if (explain) error.textContent = explain();
      showExpiry();
    },
  };
}
