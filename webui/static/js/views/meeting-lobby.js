// @ts-check
// The meeting page's guest and lobby parts: the client wrapper that makes a
// guest's join wait in the lobby until a host admits them, the host's lobby
// panel (who waits, admit or deny, lobby on or off) and the host's invite
// dialog (make a guest link that expires, and copy it).

import { REQUEST_TYPES } from "../protocol.js";
import { ConsoleError } from "../ws.js";
import { ErrorBox, errorText, formatTime, h } from "../ui.js";

/** @typedef {import("../ws.js").ConsoleClient} ConsoleClient */
/** @typedef {import("../ws.js").ConsoleEvent} ConsoleEvent */
/** @typedef {import("../i18n.js").I18n} I18n */

/**
 * @typedef {object} Waiting
 * @property {string} id
 * @property {string} name
 * @property {string} since
 */

/**
 * @typedef {object} LobbyState
 * @property {boolean} enabled
 * @property {Waiting[]} waiting
 */

/**
 * lobbyClient wraps the console client for a guest's meeting connection.
 * A conference.join that the server answers with {lobby: true} does not
 * resolve: onWaiting is called, and when a host admits the guest
 * (lobby.admitted) the join is sent again and its result resolves the
 * first. A denial, the meeting ending or the socket dropping while waiting
 * reject it with a ConsoleError coded "denied", "ended" or "disconnected".
 * Everything else passes through unchanged.
 * @param {ConsoleClient} client
 * @param {{onWaiting: (res: {meeting?: {title?: string}}) => void}} hooks
 * @returns {ConsoleClient}
 */
export function lobbyClient(client, hooks) {
  const wrapper = {
    /**
     * @param {string} type
     * @param {Record<string, unknown>} [params]
     */
    request: (type, params) => client.request(type, params),
    /**
     * @param {string} type
     * @param {Record<string, unknown>} params
     * @param {(ev: ConsoleEvent) => void} onEvent
     * @param {() => void} onLost
     */
    stream(type, params, onEvent, onLost) {
      if (type !== REQUEST_TYPES.CONFERENCE_JOIN) return client.stream(type, params, onEvent, onLost);
      /** @type {{resolve: (v: any) => void, reject: (e: Error) => void} | null} */
      let waiting = null;
      /** @param {ConsoleEvent} ev */
      const onLobbyEvent = (ev) => {
        const w = waiting;
        if (!w) {
          onEvent(ev);
          return;
        }
        if (ev.kind === "lobby.admitted") {
          waiting = null;
          current.close();
          current = client.stream(type, params, onEvent, onLost);
          current.result.then(w.resolve, w.reject);
        } else if (ev.kind === "lobby.denied" || ev.kind === "meeting.ended") {
          waiting = null;
          current.close();
          const code = ev.kind === "lobby.denied" ? "denied" : "ended";
          w.reject(new ConsoleError(code, String(ev.data?.reason ?? "")));
        }
      };
      const onStreamLost = () => {
        const w = waiting;
        if (!w) {
          onLost();
          return;
        }
        waiting = null;
        w.reject(new ConsoleError("disconnected", "the connection dropped while you waited"));
      };
      let current = client.stream(type, params, onLobbyEvent, onStreamLost);
      const result = new Promise((resolve, reject) => {
        current.result.then((res) => {
          if (!res?.lobby) {
            resolve(res);
            return;
          }
          waiting = { resolve, reject };
          hooks.onWaiting(res);
        }, reject);
      });
      return { result, close: () => current.close() };
    },
  };
  return /** @type {ConsoleClient} */ (/** @type {unknown} */ (wrapper));
}

/**
 * createLobbyPanel builds the host's lobby panel: the lobby switch and
 * who waits, each with Admit and Deny.
 * @param {object} ctx
 * @param {I18n} ctx.i18n
 * @param {(type: string, params: Record<string, unknown>) => Promise<void>} ctx.act sends a request and shows its error.
 * @param {(text: () => string) => void} ctx.notify tells the host someone new waits.
 * @param {HTMLElement} ctx.invite the "Invite guests" button, shown in the panel.
 * @returns {{el: HTMLElement, update: (st: LobbyState) => void, relocalize: () => void}}
 */
export function createLobbyPanel(ctx) {
  const { i18n, act } = ctx;
  const toggle = h("input", { testid: "lobby-toggle", attrs: { type: "checkbox" } });
  const list = h("ul", { class: "lobby-list", testid: "lobby-waiting" });
  const empty = h("p", { class: "muted small", testid: "lobby-empty", i18n: "meeting.lobby_empty" });
  const count = h("span", { class: "tag tag-lobby", testid: "lobby-count" });
  const el = h(
    "section",
    { class: "lobby-panel", testid: "lobby-panel", attrs: { hidden: true } },
    h("div", { class: "lobby-head" }, h("h2", { class: "card-title" }, h("span", { i18n: "meeting.lobby" }), " ", count), ctx.invite),
    h("label", { class: "lobby-switch" }, toggle, h("span", { i18n: "meeting.lobby_on" })),
    list,
    empty,
  );
  /** @type {LobbyState} */
  let state = { enabled: true, waiting: [] };
  /** @type {Set<string>} */
  let known = new Set();

  toggle.addEventListener("change", () => {
    void act(REQUEST_TYPES.CONFERENCE_LOBBY, { enabled: toggle.checked });
  });

  function render() {
    toggle.checked = state.enabled;
    count.textContent = String(state.waiting.length);
    count.hidden = state.waiting.length === 0;
    empty.hidden = state.waiting.length > 0;
    list.replaceChildren(
      ...state.waiting.map((w) => {
        const admit = h("button", { class: "btn btn-small btn-primary", testid: "lobby-admit", i18n: "meeting.admit", attrs: { type: "button" } });
        const deny = h("button", { class: "btn btn-small btn-danger-quiet", testid: "lobby-deny", i18n: "meeting.deny", attrs: { type: "button" } });
        admit.addEventListener("click", () => {
          admit.disabled = deny.disabled = true;
          void act(REQUEST_TYPES.CONFERENCE_ADMIT, { guest_id: w.id });
        });
        deny.addEventListener("click", () => {
          admit.disabled = deny.disabled = true;
          void act(REQUEST_TYPES.CONFERENCE_DENY, { guest_id: w.id });
        });
        return h(
          "li",
          { class: "lobby-guest", testid: "lobby-guest", data: { guest: w.id } },
          h("span", { class: "person-name", text: w.name }),
          h("span", { class: "lobby-actions" }, admit, deny),
        );
      }),
    );
    i18n.translate(el);
  }

  return {
    el,
    update(st) {
      state = { enabled: Boolean(st.enabled), waiting: st.waiting ?? [] };
      el.hidden = false;
      const now = new Set(state.waiting.map((w) => w.id));
      for (const w of state.waiting) {
        if (!known.has(w.id)) ctx.notify(() => i18n.t("meeting.guest_waiting", { name: w.name }));
      }
      known = now;
      render();
    },
    relocalize: render,
  };
}

/**
 * ttlLabel names an invite's lifetime: "8 hours", "1 day", "7 days".
 * @param {I18n} i18n
 * @param {number} hours
 * @returns {string}
 */
export function ttlLabel(i18n, hours) {
  if (hours < 24) return i18n.t("meeting.invite_hours", { n: hours });
  if (hours === 24) return i18n.t("meeting.invite_one_day");
  return i18n.t("meeting.invite_days", { n: hours / 24 });
}

/**
 * openInviteDialog lets a host make a guest invite link for the meeting,
 * with how long it works, and shows it ready to copy with its expiry.
 * @param {object} ctx
 * @param {I18n} ctx.i18n
 * @param {ConsoleClient} ctx.client
 * @param {string} ctx.room
 */
export function openInviteDialog(ctx) {
  const { i18n, client, room } = ctx;
  const ttl = h(
    "select",
    { testid: "invite-ttl" },
    ...[1, 8, 24, 72, 168].map((n) =>
      h("option", { text: ttlLabel(i18n, n), attrs: { value: n, selected: n === 24 } }),
    ),
  );
  const make = h("button", { class: "btn btn-primary", testid: "invite-create", i18n: "meeting.invite_make", attrs: { type: "button" } });
  const link = h("input", { class: "invite-link mono", testid: "invite-link", attrs: { readonly: true, hidden: true } });
  const copy = h("button", { class: "btn", testid: "invite-copy", i18n: "meeting.invite_copy", attrs: { type: "button", hidden: true } });
  const expires = h("p", { class: "muted small", testid: "invite-expires", attrs: { hidden: true } });
  const copied = h("p", { class: "form-notice", testid: "invite-copied", i18n: "meeting.invite_copied", attrs: { hidden: true } });
  const error = new ErrorBox("invite-error");
  const close = h("button", { class: "btn btn-plain", i18n: "meeting.close", attrs: { type: "button" } });
  const dlg = h(
    "dialog",
    { class: "dialog dialog-invite", testid: "invite-dialog" },
    h(
      "div",
      { class: "stack" },
      h("h2", { class: "dialog-title", i18n: "meeting.invite_title" }),
      h("div", { class: "invite-row" }, h("label", { class: "field" }, h("span", { class: "field-label", i18n: "meeting.invite_ttl" }), ttl), make),
      h("div", { class: "invite-row" }, link, copy),
      expires,
      copied,
      error.el,
      h("div", { class: "dialog-actions" }, close),
    ),
  );
  make.addEventListener("click", async () => {
    error.hide();
    make.disabled = true;
    try {
      const res = await client.request(REQUEST_TYPES.CONFERENCE_INVITE, { room, ttl_hours: Number(ttl.value) });
      // The server names its own address; the page's origin is the one
      // the host reached it by, which guests can reach too.
      link.value = `${location.origin}${res.path}`;
      link.hidden = copy.hidden = expires.hidden = false;
      const at = res.expires_at;
      expires.textContent = i18n.t("meeting.invite_expires", { time: formatTime(at) });
      link.select();
    } catch (err) {
      error.show(() => errorText(i18n, err));
    } finally {
      make.disabled = false;
    }
  });
  copy.addEventListener("click", async () => {
    link.select();
    try {
      await navigator.clipboard.writeText(link.value);
      copied.hidden = false;
    } catch {
      // No clipboard access (an insecure page, or denied): the link is
      // selected for the host to copy by hand.
    }
  });
  close.addEventListener("click", () => dlg.close());
  dlg.addEventListener("close", () => dlg.remove());
  i18n.translate(dlg);
  document.body.append(dlg);
  dlg.showModal();
}

/**
 * createWaitingScreen is what a guest sees in the lobby: the meeting, and
 * that the host will let them in; or, denied, why and "Ask again".
 * @param {I18n} i18n
 * @param {() => void} onAskAgain
 * @returns {{el: HTMLElement, waiting: (title: string) => void, denied: (why: () => string) => void}}
 */
export function createWaitingScreen(i18n, onAskAgain) {
  const meeting = h("p", { class: "guest-meeting", testid: "lobby-wait-meeting" });
  const title = h("p", { class: "lobby-wait-title", testid: "lobby-wait-title", i18n: "guest.waiting" });
  const hint = h("p", { class: "muted", i18n: "guest.waiting_hint" });
  const dot = h("span", { class: "lobby-wait-dot", attrs: { "aria-hidden": "true" } });
  const why = new ErrorBox("lobby-denied");
  const again = h("button", { class: "btn btn-primary", testid: "lobby-ask-again", i18n: "guest.ask_again", attrs: { type: "button", hidden: true } });
  again.addEventListener("click", onAskAgain);
  const el = h("section", { class: "card lobby-wait", testid: "lobby-wait", attrs: { role: "status", hidden: true } }, meeting, dot, title, hint, why.el, again);
  i18n.translate(el);
  return {
    el,
    waiting(t) {
      meeting.textContent = t;
      el.hidden = false;
      why.hide();
      again.hidden = true;
      title.hidden = hint.hidden = dot.hidden = false;
    },
    denied(fn) {
      el.hidden = false;
      title.hidden = hint.hidden = dot.hidden = true;
      why.show(fn);
      again.hidden = false;
    },
  };
}
