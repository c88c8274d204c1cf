// @ts-check
// The browser softphone: a console user takes the calls to the desk-phone
// extensions linked to them, and calls extensions and ring groups, from
// the browser. civicd bridges each such call into a private two-party
// meeting room; the page joins it with MeetingConnection and publishes
// only the microphone.
//
// Signalling, on the shared websocket:
//   softphone.register  long-lived: the result lists the user's extensions,
//                       then softphone.ringing / softphone.ring_ended
//                       events follow on its id; sent again after every
//                       reconnect.
//   softphone.call      dials; softphone.state events follow on its id.
//   softphone.answer    takes a ringing call ({ring_id}: "id" is the
//                       request's own); softphone.state events follow.
//   softphone.decline   ({ring_id}), softphone.hangup ({call_id}).
//   softphone.dtmf      ({call_id, digits}): a key of the panel's keypad.
//
// On screen (softphone-ui.js): incoming calls as cards stacked at the
// top right (with a quiet ring tone and a flashing tab title), and one
// call panel at the bottom right. Test hooks: window.civicSoftphone.state(), and while a
// call is up window.civicCallAudio() and window.civicCallToneHz().
// app.js makes one Softphone per signed-in session; views/phones.js
// starts calls from the directory.

import { MeetingConnection } from "./meeting-rtc.js";
import { REQUEST_TYPES } from "./protocol.js";
import { CallPanel, FINAL_STATES, RingTone, TitleFlasher, callErrorText, isFinal, ringCard } from "./softphone-ui.js";
import { errorText, h } from "./ui.js";
import { createToneMeter, inboundAudio } from "./views/meeting-phones.js";

/** @typedef {import("./ws.js").ConsoleClient} ConsoleClient */
/** @typedef {import("./ws.js").ConsoleEvent} ConsoleEvent */
/** @typedef {import("./ws.js").User} User */
/** @typedef {import("./i18n.js").I18n} I18n */
/** @typedef {import("./ui.js").Notices} Notices */

/**
 * @typedef {object} Ring an incoming call ringing in this console.
 * @property {string} id
 * @property {string} from the caller's number
 * @property {string} from_name the caller's name, may be ""
 * @property {string} to the extension dialled
 */

/**
 * @typedef {object} RingEntry a ringing call and its card.
 * @property {Ring} ring
 * @property {{el: HTMLElement, render: (v: import("./softphone-ui.js").RingCardView) => void}} card
 * @property {boolean} answering the answer is on its way
 * @property {() => void} render shows the ring as it is now
 */

/**
 * @typedef {object} LinkedExtension an extension linked to this user.
 * @property {string} number
 * @property {string} name
 */

/**
 * @typedef {"connecting" | "ringing" | "answered" | "busy" | "declined" | "no_answer" | "unavailable" | "unknown_number" | "failed" | "ended"} CallState
 * "connecting" is the page's own: before the server's first word.
 */

/**
 * @typedef {object} SoftphoneState what window.civicSoftphone.state() gives.
 * @property {boolean} registered
 * @property {string[]} ringing the ids of the calls ringing here
 * @property {{call_id: string, state: CallState, number: string} | null} call the call the panel shows
 */

/**
 * @typedef {object} Call the call the panel shows.
 * @property {string} callId "" until the server names it
 * @property {string} number the other party's number
 * @property {string} name the other party's name, may be ""
 * @property {CallState} state
 * @property {string} reason the server's reason for a final state, if any
 * @property {(() => string) | null} error why it failed, in words
 * @property {number} answeredAt Date.now() when answered, 0 before
 * @property {number} endedAt Date.now() when it reached a final state, 0 before
 * @property {MediaStream | null} mic
 * @property {boolean} muted
 * @property {MeetingConnection | null} conn
 * @property {boolean} joining conference.join is in flight
 * @property {boolean} userEnded this user hung up
 * @property {boolean} hangupWanted hung up before the call had an id: hang up once it has
 * @property {Promise<void>} leaving resolves once the room is left
 * @property {() => void} closeStream stops the events of softphone.call/answer
 * @property {MediaStream | null} remote what the desk phone sends
 * @property {Map<string, string>} owners participant id of each received track id
 */

/** Every state softphone.state may carry. */
const SERVER_STATES = Object.freeze(["ringing", "answered", ...FINAL_STATES]);

/** How long a finished call stays on screen. */
export const FINAL_SHOW_MS = 3000;

/** The ring_ended reasons that mean nobody took the call. */
const MISSED = Object.freeze(["cancelled", "timeout"]);

/**
 * ringFromEvent reads the data of a softphone.ringing event; null when it
 * has no id.
 * @param {any} d
 * @returns {Ring | null}
 */
export function ringFromEvent(d) {
  const id = String(d?.id ?? "");
  if (!id) return null;
  return { id, from: String(d.from ?? ""), from_name: String(d.from_name ?? ""), to: String(d.to ?? "") };
}

/**
 * stopTracks ends every track of a stream (the microphone goes dark).
 * @param {MediaStream | null} stream
 */
function stopTracks(stream) {
  for (const t of stream?.getTracks() ?? []) t.stop();
}

/**
 * Softphone is the browser softphone of one signed-in session.
 */
export class Softphone {
  #client;
  #i18n;
  #user;
  #notices;
  #ringStack = h("div", { class: "ring-stack", testid: "incoming-calls", attrs: { "aria-live": "assertive" } });
  #panelSlot = h("div", { class: "call-slot" });
  #host = h("div", { class: "softphone", testid: "softphone" }, this.#ringStack, this.#panelSlot);
  #running = false;
  #registered = false;
  #registering = false;
  /** resolves when the registration on its way is answered (calls need it). */
  #registerWait = Promise.resolve();
  /** @type {LinkedExtension[]} */
  #extensions = [];
  /** @type {Map<string, RingEntry>} */
  #rings = new Map();
  /** @type {Call | null} */
  #call = null;
  /** @type {CallPanel | null} */
  #panel = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #closeTimer;
  #closeRegister = () => {};
  #offState = () => {};
  #removeHooks = () => {};
  /** @type {Set<() => void>} */
  #listeners = new Set();
  #tone = new RingTone();
  #title = new TitleFlasher();
  /** window.civicSoftphone, the test hook. */
  #hook = Object.freeze({ state: () => this.state() });
  #onPageHide = () => {
    const c = this.#call;
    if (c?.callId && !isFinal(c.state)) this.#sendHangup(c.callId);
  };

  /**
   * @param {object} opts
   * @param {ConsoleClient} opts.client
   * @param {I18n} opts.i18n
   * @param {{user: User}} opts.session the signed-in user (their name goes into the call room)
   * @param {Notices} [opts.notices] where missed calls are mentioned
   */
  constructor(opts) {
    this.#client = opts.client;
    this.#i18n = opts.i18n;
    this.#user = opts.session.user;
    this.#notices = opts.notices ?? null;
  }

  /** start shows the softphone and registers it, again after every reconnect. */
  start() {
    if (this.#running) return;
    this.#running = true;
    document.body.append(this.#host);
    /** @type {any} */ (window).civicSoftphone = this.#hook;
    window.addEventListener("pagehide", this.#onPageHide);
    this.#offState = this.#client.onState((s) => {
      if (s === "online") this.#register();
    });
  }

  /** stop hangs up a call in progress, forgets the rings and takes the softphone off the page. */
  stop() {
    if (!this.#running) return;
    const c = this.#call;
    if (c && !isFinal(c.state)) this.#finish(c, "ended", { userEnded: true });
    this.#running = false;
    this.#offState();
    this.#closeRegister();
    this.#registered = false;
    this.#extensions = [];
    this.#closePanel();
    for (const id of [...this.#rings.keys()]) this.#removeRing(id);
    this.#tone.close();
    this.#title.stop();
    this.#host.remove();
    const w = /** @type {any} */ (window);
    if (w.civicSoftphone === this.#hook) delete w.civicSoftphone;
    window.removeEventListener("pagehide", this.#onPageHide);
    this.#emit();
  }

  /** @returns {boolean} whether a call is in progress (not yet over). */
  busy() {
    return this.#call !== null && !isFinal(this.#call.state);
  }

  /** @returns {LinkedExtension[]} the extensions linked to this user, as the last registration said. */
  extensions() {
    return [...this.#extensions];
  }

  /** @returns {SoftphoneState} */
  state() {
    const c = this.#call;
    return {
      registered: this.#registered,
      ringing: [...this.#rings.keys()],
      call: c ? { call_id: c.callId, state: c.state, number: c.number } : null,
    };
  }

  /**
   * onChange registers a listener for changes of state(): registration,
   * rings, the call and its state.
   * @param {() => void} fn
   * @returns {() => void} removes the listener.
   */
  onChange(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** relocalize renders the panel and the cards in the current language. */
  relocalize() {
    if (this.#call) this.#panel?.render(this.#call);
    for (const r of this.#rings.values()) r.render();
    this.#syncRinging();
  }

  /**
   * call dials number (an extension or a ring group) from the browser. It
   * asks for the microphone first, so call it from a click. It never
   * rejects: what goes wrong shows in the call panel.
   * @param {string} number
   * @param {string} [name] the directory's name for number, shown until the server names it
   * @returns {Promise<void>}
   */
  async call(number, name = "") {
    if (!this.#running || this.busy()) return;
    const c = this.#newCall(number, name);
    const mic = await this.#getMic(c);
    if (!mic) return;
    // The server takes calls only from a registered softphone.
    if (!this.#registered) await this.#registerWait;
    if (isFinal(c.state)) {
      stopTracks(mic);
      return;
    }
    const st = this.#client.stream(
      REQUEST_TYPES.SOFTPHONE_CALL,
      { number },
      (ev) => this.#onCallEvent(c, ev),
      () => this.#onCallLost(c),
    );
    c.closeStream = st.close;
    /** @type {any} */
    let res;
    try {
      res = await st.result;
    } catch (err) {
      this.#finish(c, "failed", { error: () => callErrorText(this.#i18n, err) });
      return;
    }
    this.#named(c, res);
    await this.#join(c, String(res?.room ?? ""));
  }

  /**
   * register sends softphone.register, unless registered or on the way.
   */
  #register() {
    if (!this.#running || this.#registered || this.#registering) return;
    this.#registering = true;
    const st = this.#client.stream(
      REQUEST_TYPES.SOFTPHONE_REGISTER,
      {},
      (ev) => this.#onRingEvent(ev),
      () => this.#onRegisterLost(),
    );
    this.#closeRegister = st.close;
    this.#registerWait = st.result.then(
      () => {},
      () => {},
    );
    st.result.then(
      (res) => {
        this.#registering = false;
        if (!this.#running) {
          st.close();
          return;
        }
        this.#registered = true;
        this.#extensions = (res?.extensions ?? []).map((/** @type {any} */ e) => ({ number: String(e?.number ?? ""), name: String(e?.name ?? "") }));
        this.#emit();
      },
      (err) => {
        // The next reconnect tries again; an older server or a refused
        // role leaves the browser without incoming calls until then.
        this.#registering = false;
        if (err?.code !== "disconnected" && err?.code !== "closed") console.warn("softphone: register failed", err);
      },
    );
  }

  #onRegisterLost() {
    this.#registered = false;
    // The rings went with the connection; the next registration brings
    // back whatever still rings.
    for (const id of [...this.#rings.keys()]) this.#removeRing(id);
    this.#emit();
  }

  /**
   * @param {ConsoleEvent} ev an event of softphone.register
   */
  #onRingEvent(ev) {
    if (ev.kind === "softphone.ringing") {
      const ring = ringFromEvent(ev.data);
      if (ring && !this.#rings.has(ring.id)) this.#addRing(ring);
      return;
    }
    if (ev.kind === "softphone.ring_ended") {
      const id = String(ev.data?.id ?? "");
      const entry = this.#rings.get(id);
      if (!entry) return;
      const reason = String(ev.data?.reason ?? "");
      if (MISSED.includes(reason) && !entry.answering) {
        const caller = this.#callerOf(entry.ring);
        this.#notices?.show(() => this.#i18n.t("softphone.missed", { caller: caller() }), "info");
      }
      this.#removeRing(id);
    }
  }

  /**
   * callerOf names the caller of a ring: their name, else their number.
   * @param {Ring} ring
   * @returns {() => string} follows language switches
   */
  #callerOf(ring) {
    return () => ring.from_name || ring.from || this.#i18n.t("softphone.unknown_caller");
  }

  /**
   * addRing shows the card of an incoming call.
   * @param {Ring} ring
   */
  #addRing(ring) {
    const caller = this.#callerOf(ring);
    /** @type {RingEntry} */
    const entry = {
      ring,
      answering: false,
      card: ringCard(this.#i18n, ring, {
        onAnswer: () => void this.#answer(entry),
        onDecline: () => this.#decline(entry),
      }),
      render: () => {
        const linked = this.#extensions.find((e) => e.number === ring.to);
        entry.card.render({
          caller: caller(),
          to: linked?.name ? `${ring.to} ${linked.name}` : ring.to,
          busy: this.busy(),
          answering: entry.answering,
        });
      },
    };
    entry.render();
    this.#rings.set(ring.id, entry);
    this.#ringStack.append(entry.card.el);
    this.#syncRinging();
    this.#emit();
  }

  /** @param {string} id */
  #removeRing(id) {
    const entry = this.#rings.get(id);
    if (!entry) return;
    entry.card.el.remove();
    this.#rings.delete(id);
    this.#syncRinging();
    this.#emit();
  }

  /**
   * syncRinging plays the ring tone and flashes the title while something
   * rings and no call is in progress (a call in progress only gets the
   * card).
   */
  #syncRinging() {
    const rings = [...this.#rings.values()];
    for (const r of rings) r.render();
    const newest = rings[rings.length - 1];
    if (!newest || !this.#running) {
      this.#tone.stop();
      this.#title.stop();
      return;
    }
    if (this.busy()) this.#tone.stop();
    else this.#tone.start();
    this.#title.start(this.#i18n.t("softphone.title_ringing", { caller: this.#callerOf(newest.ring)() }));
  }

  /**
   * decline turns a ringing call away.
   * @param {RingEntry} entry
   */
  #decline(entry) {
    if (entry.answering) return;
    this.#removeRing(entry.ring.id);
    this.#client.request(REQUEST_TYPES.SOFTPHONE_DECLINE, { ring_id: entry.ring.id }).catch((err) => {
      this.#notices?.show(() => errorText(this.#i18n, err), "error");
    });
  }

  /**
   * answer takes a ringing call: it ends the call in progress, asks for
   * the microphone, answers and joins the call's room.
   * @param {RingEntry} entry
   */
  async #answer(entry) {
    if (entry.answering || !this.#running) return;
    entry.answering = true;
    entry.render();
    const ring = entry.ring;
    const prev = this.#call;
    if (prev && !isFinal(prev.state)) {
      this.#finish(prev, "ended", { userEnded: true });
      await prev.leaving;
    }
    const c = this.#newCall(ring.from, ring.from_name);
    const mic = await this.#getMic(c);
    const gone = !this.#rings.has(ring.id);
    if (!mic || gone || isFinal(c.state)) {
      // No microphone: the card stays, to try again. Or the caller gave
      // up meanwhile.
      if (mic) this.#finish(c, "ended", {});
      stopTracks(mic);
      entry.answering = false;
      entry.render();
      return;
    }
    const st = this.#client.stream(
      REQUEST_TYPES.SOFTPHONE_ANSWER,
      { ring_id: ring.id },
      (ev) => this.#onCallEvent(c, ev),
      () => this.#onCallLost(c),
    );
    c.closeStream = st.close;
    /** @type {any} */
    let res;
    try {
      res = await st.result;
    } catch (err) {
      entry.answering = false;
      entry.render();
      this.#finish(c, "failed", { error: () => callErrorText(this.#i18n, err) });
      return;
    }
    this.#removeRing(ring.id);
    if (c.state === "connecting") {
      c.state = "answered";
      c.answeredAt = Date.now();
    }
    this.#named(c, res);
    await this.#join(c, String(res?.room ?? ""));
  }

  /**
   * newCall opens the panel for a new call, in place of a finished one.
   * @param {string} number
   * @param {string} name
   * @returns {Call}
   */
  #newCall(number, name) {
    this.#closePanel();
    /** @type {Call} */
    const c = {
      callId: "",
      number,
      name,
      state: "connecting",
      reason: "",
      error: null,
      answeredAt: 0,
      endedAt: 0,
      mic: null,
      muted: false,
      conn: null,
      joining: false,
      userEnded: false,
      hangupWanted: false,
      leaving: Promise.resolve(),
      closeStream: () => {},
      remote: null,
      owners: new Map(),
    };
    const panel = new CallPanel(this.#i18n, {
      onMute: () => this.#toggleMute(c),
      onHangup: () => {
        if (!isFinal(c.state)) this.#finish(c, "ended", { userEnded: true });
      },
      onDigit: (digits) => this.#client.request(REQUEST_TYPES.SOFTPHONE_DTMF, { call_id: c.callId, digits }),
    });
    this.#call = c;
    this.#panel = panel;
    this.#panelSlot.replaceChildren(panel.el);
    this.#update(c);
    return c;
  }

  /**
   * named takes the call's id and the other party's number and name from
   * the result of softphone.call or softphone.answer. A call hung up
   * before it had an id is hung up now.
   * @param {Call} c
   * @param {any} res
   */
  #named(c, res) {
    c.callId = String(res?.call_id ?? "");
    c.number = String(res?.number || c.number);
    c.name = String(res?.name || c.name);
    if (c.hangupWanted && c.callId) {
      c.hangupWanted = false;
      this.#sendHangup(c.callId);
    }
    this.#update(c);
  }

  /**
   * getMic asks for the microphone (audio only). On refusal the call
   * fails with the reason.
   * @param {Call} c
   * @returns {Promise<MediaStream | null>}
   */
  async #getMic(c) {
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error("no media devices (not a secure context?)"), { name: "SecurityError" });
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      if (isFinal(c.state)) {
        stopTracks(mic);
        return null;
      }
      c.mic = mic;
      this.#update(c);
      return mic;
    } catch (err) {
      this.#finish(c, "failed", { error: () => callErrorText(this.#i18n, err) });
      return null;
    }
  }

  /**
   * join enters the call's room with the microphone. If the room cannot
   * be joined (this connection is in a meeting), the call is hung up.
   * @param {Call} c
   * @param {string} room
   */
  async #join(c, room) {
    if (isFinal(c.state)) return;
    const conn = new MeetingConnection({
      client: this.#client,
      room,
      onEvent: (ev) => {
        if (ev.kind === "meeting.ended" || ev.kind === "removed") this.#finish(c, "ended", {});
      },
      onTrack: (track, stream) => this.#onTrack(c, track, stream),
      onLost: () => this.#onCallLost(c),
    });
    c.conn = conn;
    c.joining = true;
    this.#installHooks(c);
    try {
      await conn.join(c.mic, this.#user.display_name || this.#user.username);
    } catch (err) {
      c.joining = false;
      if (isFinal(c.state)) c.leaving = conn.leave(c.userEnded && conn.id !== "");
      else this.#finish(c, "failed", { userEnded: true, error: () => callErrorText(this.#i18n, err) });
      return;
    }
    c.joining = false;
    // Over while joining: leave now that the room knows us (a no-op when
    // finish could already).
    if (isFinal(c.state)) c.leaving = conn.leave(c.userEnded);
  }

  /**
   * @param {Call} c
   * @param {MediaStreamTrack} track
   * @param {MediaStream} stream its stream id is the phone's participant id
   */
  #onTrack(c, track, stream) {
    if (c !== this.#call || track.kind !== "audio" || !this.#panel) return;
    c.owners.set(track.id, stream.id);
    c.remote = stream;
    const audio = this.#panel.audio;
    audio.srcObject = stream;
    void audio.play().catch(() => {});
  }

  /**
   * @param {Call} c
   * @param {ConsoleEvent} ev an event of softphone.call or softphone.answer
   */
  #onCallEvent(c, ev) {
    if (ev.kind !== "softphone.state") return;
    const d = ev.data ?? {};
    const state = /** @type {CallState} */ (String(d.state ?? ""));
    if (!SERVER_STATES.includes(state) || isFinal(c.state)) return;
    if (!c.callId && d.call_id) c.callId = String(d.call_id);
    if (isFinal(state)) {
      this.#finish(c, state, { reason: String(d.reason ?? "") });
      return;
    }
    if (state === "answered" && !c.answeredAt) c.answeredAt = Date.now();
    c.state = state;
    this.#update(c);
  }

  /**
   * onCallLost ends the call when the websocket drops: its events cannot
   * be had again. The hang-up goes out once the connection is back.
   * @param {Call} c
   */
  #onCallLost(c) {
    if (isFinal(c.state)) return;
    this.#finish(c, "failed", { error: () => this.#i18n.t("softphone.err.lost") });
    if (c.callId) this.#sendHangup(c.callId);
  }

  /**
   * finish ends a call in state (once): it stops its events, hangs up when
   * this user ended it, leaves the room (telling the server only when this
   * user hung up: otherwise the server ended it), turns the microphone
   * off, and closes the panel after FINAL_SHOW_MS.
   * @param {Call} c
   * @param {CallState} state a final state
   * @param {{userEnded?: boolean, error?: () => string, reason?: string}} opts
   */
  #finish(c, state, opts) {
    if (isFinal(c.state)) return;
    c.state = state;
    c.reason = opts.reason ?? "";
    c.error = opts.error ?? null;
    c.endedAt = Date.now();
    c.userEnded = Boolean(opts.userEnded);
    c.closeStream();
    if (c.userEnded) {
      if (c.callId) this.#sendHangup(c.callId);
      else c.hangupWanted = true;
    }
    // A room still joining is left once the server knows the participant
    // (see join).
    const conn = c.conn;
    if (conn && (!c.joining || conn.id !== "")) c.leaving = conn.leave(c.userEnded && conn.id !== "");
    stopTracks(c.mic);
    if (this.#call === c) {
      this.#removeHooks();
      clearTimeout(this.#closeTimer);
      this.#closeTimer = setTimeout(() => {
        if (this.#call === c) this.#closePanel();
      }, FINAL_SHOW_MS);
    }
    this.#update(c);
  }

  /** @param {string} callId */
  #sendHangup(callId) {
    this.#client.request(REQUEST_TYPES.SOFTPHONE_HANGUP, { call_id: callId }).catch(() => {
      // Already over, or the connection is gone: the server ends the
      // call with the connection.
    });
  }

  /** @param {Call} c */
  #toggleMute(c) {
    const track = c.mic?.getAudioTracks()[0];
    if (!track || isFinal(c.state)) return;
    c.muted = !c.muted;
    track.enabled = !c.muted;
    this.#update(c);
  }

  /**
   * update renders the panel of c (if it is still shown) and the cards
   * (the ring tone stops while a call is in progress), and tells the
   * listeners.
   * @param {Call} c
   */
  #update(c) {
    if (this.#call === c) this.#panel?.render(c);
    this.#syncRinging();
    this.#emit();
  }

  #closePanel() {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#removeHooks();
    this.#panel?.close();
    this.#panel = null;
    if (this.#call) {
      this.#call = null;
      this.#emit();
    }
    this.#syncRinging();
  }

  /**
   * installHooks puts the call's audio test hooks on window until the
   * call ends:
   *
   *   window.civicCallAudio() resolves to one AudioStat (see
   *   meeting-phones.js) per inbound audio track of the call's subscribe
   *   connection;
   *
   *   window.civicCallToneHz() resolves to the dominant frequency (Hz)
   *   of the call's received audio over ~0.5 s, 0 when silent.
   * @param {Call} c
   */
  #installHooks(c) {
    this.#removeHooks();
    const w = /** @type {any} */ (window);
    const meter = createToneMeter();
    const audio = async () => {
      const report = c.conn ? await c.conn.subscribeStats() : null;
      return report ? inboundAudio(report, (id) => c.owners.get(id) ?? "") : [];
    };
    const tone = async () => (c.remote ? meter.measure(c.remote) : 0);
    w.civicCallAudio = audio;
    w.civicCallToneHz = tone;
    this.#removeHooks = () => {
      if (w.civicCallAudio === audio) delete w.civicCallAudio;
      if (w.civicCallToneHz === tone) delete w.civicCallToneHz;
      meter.close();
      this.#removeHooks = () => {};
    };
  }

  #emit() {
    for (const fn of this.#listeners) {
      try {
        fn();
      } catch (err) {
        console.error("softphone listener", err);
      }
    }
  }
}

/**
 * createSoftphone makes the softphone of a signed-in session; call start
 * to show and register it, stop on sign-out.
 * @param {{client: ConsoleClient, i18n: I18n, session: {user: User}, notices?: Notices}} opts
 * @returns {Softphone}
 */
export function createSoftphone(opts) {
  return new Softphone(opts);
}
