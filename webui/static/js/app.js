// @ts-check
// Boot and routing for the console. On load the websocket connects and
// authenticates with the session cookie: auth_ok shows the app, auth_invalid
// the login page. Pages live behind hash routes (#/system, #/users,
// #/audit, #/phones, #/building, #/cameras) and each role only gets the
// pages it may use. Every signed-in user but a guest also gets the browser
// softphone (softphone.js), which lives as long as the session's shell.

import { I18n } from "./i18n.js";
import { ConsoleClient, wsURL } from "./ws.js";
import { createTopbar } from "./topbar.js";
import { Notices, h } from "./ui.js";
import { mountLogin } from "./views/login.js";
import { mountSystem } from "./views/system.js";
import { mountUsers } from "./views/users.js";
import { mountAudit } from "./views/audit.js";
import { mountMeetings } from "./views/meetings.js";
import { mountMeeting } from "./views/meeting.js";
import { mountPhones } from "./views/phones.js";
import { mountBuilding } from "./views/building.js";
import { mountCameras } from "./views/cameras.js";
import { mountGuest, tokenFromHash } from "./views/guest.js";
import { REQUEST_TYPES } from "./protocol.js";
import { createSoftphone } from "./softphone.js";

/** @typedef {import("./ws.js").User} User */
/** @typedef {import("./ws.js").AuthOutcome} AuthOutcome */
/** @typedef {import("./softphone.js").Softphone} Softphone */

/**
 * @typedef {object} Session
 * @property {User} user
 * @property {string} role
 * @property {string} version
 */

/**
 * @typedef {object} AppContext what every view gets.
 * @property {ConsoleClient} client
 * @property {I18n} i18n
 * @property {Notices} notices
 * @property {Session} session
 * @property {Softphone | null} [softphone] the browser softphone; none for guests.
 */

/**
 * @typedef {object} View
 * @property {HTMLElement} el
 * @property {() => void} destroy
 * @property {() => void} [relocalize] re-renders language-dependent data.
 */

/**
 * @typedef {object} Route
 * @property {string} name
 * @property {string} nav dictionary key of the nav link; "" keeps it out of the nav.
 * @property {string} title dictionary key of the page title.
 * @property {readonly string[]} roles
 * @property {(ctx: AppContext) => View} mount
 */

const ALL_ROLES = Object.freeze(["admin", "official", "facilities"]);
const ADMIN = Object.freeze(["admin"]);
const MEETERS = Object.freeze(["admin", "official"]);
// The Building and Cameras pages are for those who watch and open the doors.
const FACILITIES = Object.freeze(["admin", "facilities"]);
// A guest (invite link) sees only the meeting of their invite.
const ATTENDEES = Object.freeze(["admin", "official", "guest"]);
// Everyone but guests gets the browser softphone.
const SOFTPHONE_ROLES = ALL_ROLES;

/** The pages, in nav order. */
export const ROUTES = Object.freeze(
  /** @type {Route[]} */ ([
    { name: "system", nav: "nav.system", title: "page.system", roles: ALL_ROLES, mount: mountSystem },
    { name: "meetings", nav: "nav.meetings", title: "page.meetings", roles: MEETERS, mount: mountMeetings },
    { name: "meeting", nav: "", title: "page.meeting", roles: ATTENDEES, mount: mountMeeting },
    { name: "phones", nav: "nav.phones", title: "page.phones", roles: ALL_ROLES, mount: mountPhones },
    { name: "building", nav: "nav.building", title: "page.building", roles: FACILITIES, mount: mountBuilding },
    { name: "cameras", nav: "nav.cameras", title: "page.cameras", roles: FACILITIES, mount: mountCameras },
    { name: "users", nav: "nav.users", title: "page.users", roles: ADMIN, mount: mountUsers },
    { name: "audit", nav: "nav.audit", title: "page.audit", roles: ADMIN, mount: mountAudit },
  ]),
);

const DEFAULT_ROUTE = "system";

/**
 * routesFor lists the pages a role may use.
 * @param {string} role
 * @returns {Route[]}
 */
export function routesFor(role) {
  return ROUTES.filter((r) => r.roles.includes(role));
}

/**
 * parseHash returns the route name of a location hash such as "#/users".
 * @param {string} hash
 * @returns {string}
 */
export function parseHash(hash) {
  const m = /^#\/([a-z-]+)/.exec(hash);
  return m ? m[1] : "";
}

/** @returns {Storage | null} */
function localStore() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/**
 * App owns the page: the login screen or the shell with top bar and view.
 */
class App {
  #root;
  #i18n;
  #client;
  #notices = new Notices();

  /** @type {Session | null} */
  #session = null;
  /** @type {ReturnType<typeof createTopbar> | null} */
  #topbar = null;
  /** @type {View | null} */
  #view = null;
  /** @type {HTMLElement | null} */
  #viewHost = null;
  /** @type {HTMLElement | null} */
  #title = null;
  /** @type {Route | null} */
  #route = null;
  /** @type {(View & {failed: (msg: string) => void}) | null} */
  #login = null;
  /** @type {HTMLElement | null} */
  #boot = null;
  #signingOut = false;
  /** @type {{el: HTMLElement, destroy: () => void, relocalize: () => void} | null} */
  #guestPage = null;
  /** the meeting room of a guest session, "" for users. */
  #guestRoom = "";
  /** @type {Softphone | null} */
  #softphone = null;

  /**
   * @param {HTMLElement} root
   */
  constructor(root) {
    this.#root = root;
    this.#i18n = new I18n({ storage: localStore(), languages: navigator.languages ?? [navigator.language] });
    this.#client = new ConsoleClient({ url: wsURL(location) });
  }

  start() {
    this.#showBoot();
    this.#client.onAuth((a) => this.#onAuth(a));
    this.#client.onState((s) => {
      if (this.#boot && s === "reconnecting") {
        const p = this.#boot.querySelector("[data-i18n]");
        if (p instanceof HTMLElement) {
          p.dataset.i18n = "boot.unreachable";
          this.#i18n.translate(this.#boot);
        }
      }
    });
    this.#i18n.onChange(() => this.#relocalize());
    window.addEventListener("hashchange", () => this.#navigate());
    window.addEventListener("online", () => this.#client.retryNow());
    this.#client.start();
  }

  #showBoot() {
    this.#boot = h(
      "div",
      { class: "boot" },
      h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), h("span", { i18n: "app.name" })),
      h("p", { class: "muted", i18n: "boot.connecting", attrs: { role: "status" } }),
    );
    this.#i18n.translate(this.#boot);
    this.#root.replaceChildren(this.#boot);
  }

  /**
   * @param {AuthOutcome} a
   */
  #onAuth(a) {
    if (a.ok) {
      this.#signingOut = false;
      if (!this.#i18n.chosen && (a.user.language === "zh-CN" || a.user.language === "en")) {
        this.#i18n.set(a.user.language, { remember: false });
      }
      const invite = tokenFromHash(location.hash);
      if (a.role === "guest" && invite && !this.#guestPage) {
        // A guest opened another invite link: start over from it.
        this.#showGuest(invite);
        return;
      }
      if (a.role === "guest" && !this.#guestRoom) {
        // The guest's meeting comes from whoami; the shell waits for it.
        this.#client
          .request(REQUEST_TYPES.WHOAMI, {})
          .then((w) => {
            this.#guestRoom = String(w.room ?? "");
            this.#onAuth(a);
          })
          .catch(() => this.#showLogin("login.session_ended"));
        return;
      }
      const prev = this.#session;
      this.#session = { user: a.user, role: a.role, version: a.version };
      if (prev && this.#topbar && prev.user.id === a.user.id && prev.role === a.role) {
        // A reconnect: the views re-subscribe by themselves.
        this.#topbar.setUser(this.#session);
        return;
      }
      this.#showShell();
      return;
    }
    const hadSession = this.#session !== null;
    const invite = tokenFromHash(location.hash);
    if (invite) {
      if (!this.#guestPage) this.#showGuest(invite);
      return;
    }
    if (this.#login) {
      this.#login.failed(a.message);
      return;
    }
    this.#showLogin(hadSession ? "login.session_ended" : "");
  }

  /**
   * @param {string} noticeKey a message shown above the form, or "".
   */
  #showLogin(noticeKey) {
    this.#teardownShell();
    this.#guestPage?.destroy();
    this.#guestPage = null;
    this.#guestRoom = "";
    this.#notices.clear();
    this.#session = null;
    this.#boot = null;
    this.#login = mountLogin({
      i18n: this.#i18n,
      notice: noticeKey,
      onLoggedIn: () => this.#client.start(),
    });
    this.#root.replaceChildren(this.#login.el);
    this.#relocalize();
  }

  /**
   * #showGuest shows the page of an invite link: the guest gives a name
   * (and the passcode), gets a guest session, and lands in the meeting.
   * @param {string} token
   */
  #showGuest(token) {
    this.#teardownShell();
    this.#login?.destroy();
    this.#login = null;
    this.#boot = null;
    this.#session = null;
    this.#guestPage?.destroy();
    this.#client.stop();
    this.#guestPage = mountGuest({
      i18n: this.#i18n,
      token,
      onSignedIn: (room) => {
        this.#guestRoom = room;
        history.replaceState(null, "", `#/meeting/${room}`);
        this.#client.start();
      },
    });
    this.#root.replaceChildren(this.#guestPage.el);
    this.#relocalize();
  }

  #showShell() {
    const session = /** @type {Session} */ (this.#session);
    this.#teardownShell();
    this.#guestPage?.destroy();
    this.#guestPage = null;
    this.#login?.destroy();
    this.#login = null;
    this.#boot = null;
    this.#topbar = createTopbar({
      client: this.#client,
      i18n: this.#i18n,
      notices: this.#notices,
      session,
      routes: routesFor(session.role).filter((r) => r.nav !== ""),
      onLogout: () => this.#logout(),
    });
    this.#title = h("h1", { class: "page-title", testid: "page-title" });
    this.#viewHost = h("div", { class: "page-body" });
    const main = h("main", { class: "main" }, h("div", { class: "page-head" }, this.#title, this.#notices.el), this.#viewHost);
    this.#root.replaceChildren(h("div", { class: "shell" }, this.#topbar.el, main));
    if (SOFTPHONE_ROLES.includes(session.role)) {
      this.#softphone = createSoftphone({ client: this.#client, i18n: this.#i18n, session, notices: this.#notices });
      this.#softphone.start();
    }
    this.#route = null;
    this.#navigate();
  }

  #teardownShell() {
    this.#view?.destroy();
    this.#view = null;
    this.#softphone?.stop();
    this.#softphone = null;
    this.#topbar?.destroy();
    this.#topbar = null;
    this.#route = null;
  }

  /** Shows the page of the current hash, or the default page. */
  #navigate() {
    const session = this.#session;
    if (!session || !this.#viewHost || !this.#title || !this.#topbar) return;
    const allowed = routesFor(session.role);
    if (session.role === "guest" && location.hash !== `#/meeting/${this.#guestRoom}`) {
      // A guest has one page: their meeting.
      history.replaceState(null, "", `#/meeting/${this.#guestRoom}`);
    }
    const route = allowed.find((r) => r.name === parseHash(location.hash));
    if (!route) {
      const fallback = allowed.find((r) => r.name === DEFAULT_ROUTE) ?? allowed[0];
      history.replaceState(null, "", `#/${fallback.name}`);
      if (this.#route !== fallback) this.#mount(fallback);
      return;
    }
    if (route !== this.#route) this.#mount(route);
  }

  /**
   * @param {Route} route
   */
  #mount(route) {
    const session = /** @type {Session} */ (this.#session);
    this.#view?.destroy();
    this.#route = route;
    this.#view = route.mount({ client: this.#client, i18n: this.#i18n, notices: this.#notices, session, softphone: this.#softphone });
    const title = /** @type {HTMLElement} */ (this.#title);
    title.dataset.i18n = route.title;
    this.#i18n.translate(this.#view.el);
    this.#viewHost?.replaceChildren(this.#view.el);
    this.#topbar?.setActive(route.nav ? route.name : "meetings");
    this.#relocalize();
  }

  #relocalize() {
    this.#i18n.translate(document.body);
    this.#view?.relocalize?.();
    this.#topbar?.relocalize();
    this.#notices.relocalize();
    this.#login?.relocalize?.();
    this.#guestPage?.relocalize();
    this.#softphone?.relocalize();
    const page = this.#route ? this.#i18n.t(this.#route.title) : this.#i18n.t(this.#guestPage ? "page.guest" : "login.title");
    document.title = `${page} · ${this.#i18n.t("app.name")}`;
  }

  async #logout() {
    if (this.#signingOut) return;
    this.#signingOut = true;
    // Hang up a call while the connection is still there.
    this.#softphone?.stop();
    this.#softphone = null;
    this.#client.stop();
    try {
      await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
    } catch {
      // The session cookie is HttpOnly; if the server cannot be reached it
      // expires by itself. The page still returns to the login screen.
    }
    this.#showLogin("login.signed_out");
    this.#signingOut = false;
  }
}

const root = document.getElementById("app");
if (root) new App(root).start();
