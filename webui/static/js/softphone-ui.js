// @ts-check
// What the browser softphone (softphone.js) puts on screen: the card of
// an incoming call, the call panel (its keypad is softphone-keypad.js),
// their icons, the ring tone and the flashing tab title. Nothing here
// talks to the server.

import { Keypad } from "./softphone-keypad.js";
import { errorText, h } from "./ui.js";
import { formatClock } from "./views/calls.js";
import { svg } from "./views/meeting-phones.js";

/** @typedef {import("./i18n.js").I18n} I18n */
/** @typedef {import("./softphone.js").Call} Call */

/** The states after which a call is over. */
export const FINAL_STATES = Object.freeze(["busy", "declined", "no_answer", "unavailable", "unknown_number", "failed", "ended"]);

/** The ring tone: North American ringback (440 + 480 Hz), 2 s on, 4 s off, quiet. */
const RING_HZ = [440, 480];
const RING_ON_S = 2;
const RING_OFF_S = 4;
const RING_GAIN = 0.04;

/**
 * isFinal reports whether a call in state is over.
 * @param {string} state
 * @returns {boolean}
 */
export function isFinal(state) {
  return FINAL_STATES.includes(state);
}

/**
 * callErrorText explains why a call could not start or went on: the
 * microphone, the one-meeting-per-connection rule, or a server error.
 * @param {I18n} i18n
 * @param {unknown} err
 * @returns {string}
 */
export function callErrorText(i18n, err) {
  const e = /** @type {{name?: unknown, code?: unknown, message?: unknown}} */ (err ?? {});
  if (e.name === "NotFoundError" || e.name === "OverconstrainedError") return i18n.t("softphone.err.no_mic");
  if (e.name === "NotAllowedError" || e.name === "SecurityError" || e.name === "NotReadableError" || e.name === "AbortError") {
    return i18n.t("softphone.err.mic");
  }
  if (e.code === "conflict" && typeof e.message === "string" && /already in a meeting/i.test(e.message)) return i18n.t("softphone.err.in_meeting");
  return errorText(i18n, err);
}

/**
 * handsetIcon draws a telephone handset in currentColor; "call-icon-down"
 * turns it into the hang-up sign.
 * @param {string} [cls]
 * @returns {SVGElement}
 */
export function handsetIcon(cls = "call-icon") {
  return svg(
    "svg",
    { class: cls, viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" },
    svg("path", {
      d: "M6.5 3.5l3 .5 1.2 3.6-2 1.6c1 2.3 2.8 4.1 5.1 5.1l1.6-2 3.6 1.2.5 3c0 1-.8 1.8-1.8 1.8C10 18.3 4.7 13 4.7 5.3c0-1 .8-1.8 1.8-1.8z",
      fill: "currentColor",
    }),
  );
}

/**
 * micIcon draws a microphone, struck through when muted.
 * @param {boolean} muted
 * @returns {SVGElement}
 */
function micIcon(muted) {
  const line = { fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linecap": "round" };
  return svg(
    "svg",
    { class: "call-icon", viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" },
    svg("rect", { x: "9", y: "3", width: "6", height: "11", rx: "3", ...line }),
    svg("path", { d: "M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7", ...line }),
    ...(muted ? [svg("path", { d: "M4 4l16 16", ...line })] : []),
  );
}

/**
 * RingTone plays the ring tone with WebAudio while a call rings. Where
 * the browser does not let the AudioContext run (no click on the page
 * yet), it rings silently.
 */
export class RingTone {
  /** @type {AudioContext | null} */
  #ctx = null;
  /** @type {GainNode | null} */
  #gain = null;
  /** @type {OscillatorNode[]} */
  #osc = [];
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #timer;

  start() {
    if (this.#timer !== undefined) return;
    try {
      const ctx = (this.#ctx ??= new AudioContext());
      if (ctx.state !== "running") void ctx.resume().catch(() => {});
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const hz of RING_HZ) {
        const o = ctx.createOscillator();
        o.frequency.value = hz;
        o.connect(gain);
        o.start();
        this.#osc.push(o);
      }
      this.#gain = gain;
    } catch {
      return; // no WebAudio: the card alone has to do
    }
    const burst = () => {
      const ctx = this.#ctx;
      const g = this.#gain?.gain;
      if (!ctx || !g) return;
      const t = ctx.currentTime;
      g.cancelScheduledValues(t);
      g.setValueAtTime(0, t);
      g.linearRampToValueAtTime(RING_GAIN, t + 0.03);
      g.setValueAtTime(RING_GAIN, t + RING_ON_S - 0.03);
      g.linearRampToValueAtTime(0, t + RING_ON_S);
    };
    burst();
    this.#timer = setInterval(burst, (RING_ON_S + RING_OFF_S) * 1000);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const o of this.#osc) {
      try {
        o.stop();
      } catch {
        // Never started.
      }
      o.disconnect();
    }
    this.#osc = [];
    this.#gain?.disconnect();
    this.#gain = null;
  }

  close() {
    this.stop();
    void this.#ctx?.close().catch(() => {});
    this.#ctx = null;
  }
}

/**
 * TitleFlasher alternates the tab title with a message, so a ringing call
 * shows on a tab in the background. A title the app sets meanwhile (a
 * page change, a language switch) becomes the one it returns to.
 */
export class TitleFlasher {
  #base = "";
  #text = "";
  #shown = "";
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #timer;

  /** @param {string} text */
  start(text) {
    this.#text = text;
    if (this.#timer !== undefined) return;
    this.#base = document.title;
    this.#shown = document.title;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), 1000);
  }

  #tick() {
    if (document.title !== this.#shown) this.#base = document.title;
    this.#shown = this.#shown === this.#text ? this.#base : this.#text;
    document.title = this.#shown;
  }

  stop() {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (document.title === this.#shown) document.title = this.#base;
  }
}

/**
 * CallPanel is the call's window at the bottom right: who, the state, the
 * time talked, mute, the keypad (once answered) and hang up, and the
 * <audio> that plays the phone.
 */
export class CallPanel {
  #i18n;
  #name = h("div", { class: "call-name", testid: "call-name" });
  #number = h("div", { class: "call-number mono", testid: "call-number" });
  #state = h("span", { class: "call-state", testid: "call-state" });
  #timer = h("span", { class: "call-timer mono", testid: "call-timer", attrs: { hidden: true } });
  #error = h("p", { class: "call-error", testid: "call-error", attrs: { role: "alert", hidden: true } });
  #muteIcon = h("span", { class: "call-btn-icon" });
  #muteLabel = h("span", { class: "call-btn-label" });
  #mute;
  #hangup;
  #keypad;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #tick;
  /** @type {Call | null} */
  #call = null;
  /** @type {HTMLElement} */
  el;
  /** @type {HTMLAudioElement} */
  audio;

  /**
   * @param {I18n} i18n
   * @param {{onMute: () => void, onHangup: () => void, onDigit: (key: string) => Promise<unknown>}} on
   *   onDigit sends one key of the keypad to the other party
   */
  constructor(i18n, on) {
    this.#i18n = i18n;
    this.audio = h("audio", { testid: "call-audio", attrs: { autoplay: true } });
    this.#mute = h(
      "button",
      { class: "call-btn call-btn-mute", testid: "call-mute", attrs: { type: "button", "aria-pressed": "false" }, on: { click: on.onMute } },
      this.#muteIcon,
      this.#muteLabel,
    );
    this.#hangup = h(
      "button",
      { class: "call-btn call-btn-hangup", testid: "call-hangup", attrs: { type: "button" }, on: { click: on.onHangup } },
      h("span", { class: "call-btn-icon" }, handsetIcon("call-icon call-icon-down")),
      h("span", { class: "call-btn-label", i18n: "softphone.hangup" }),
    );
    this.#keypad = new Keypad(i18n, on.onDigit);
    this.el = h(
      "section",
      { class: "call-panel", testid: "call-panel", i18nAriaLabel: "softphone.panel", attrs: { role: "region" } },
      h(
        "div",
        { class: "call-head" },
        h("div", { class: "call-avatar" }, handsetIcon()),
        h("div", { class: "call-who" }, this.#name, this.#number),
      ),
      h("div", { class: "call-status", attrs: { "aria-live": "polite" } }, this.#state, this.#timer),
      this.#error,
      this.#keypad.el,
      h("div", { class: "call-actions" }, this.#mute, this.#keypad.toggle, this.#hangup),
      this.audio,
    );
    i18n.translate(this.el);
  }

  /**
   * render shows the call as it is now, and keeps the clock running while
   * it is answered.
   * @param {Call} c
   */
  render(c) {
    this.#call = c;
    const t = this.#i18n.t.bind(this.#i18n);
    const final = isFinal(c.state);
    this.el.dataset.state = c.state;
    this.#name.textContent = c.name || c.number;
    this.#number.textContent = c.number;
    this.#number.hidden = !c.name || c.name === c.number;
    this.#state.dataset.state = c.state;
    this.#state.textContent = t(`softphone.state.${c.state}`);
    if (c.reason) this.#state.title = c.reason;
    else this.#state.removeAttribute("title");
    const why = c.error?.() ?? "";
    this.#error.textContent = why;
    this.#error.hidden = why === "";
    this.#mute.disabled = final || !c.mic;
    this.#mute.setAttribute("aria-pressed", String(c.muted));
    this.#muteIcon.replaceChildren(micIcon(c.muted));
    this.#muteLabel.textContent = t(c.muted ? "softphone.unmute" : "softphone.mute");
    this.#hangup.disabled = final;
    this.#keypad.render({ shown: c.answeredAt > 0, usable: c.state === "answered" && c.callId !== "", over: final });
    this.#renderClock();
    if (c.answeredAt && !final && this.#tick === undefined) this.#tick = setInterval(() => this.#renderClock(), 1000);
    if (final) this.#stopClock();
  }

  #renderClock() {
    const c = this.#call;
    if (!c?.answeredAt) {
      this.#timer.hidden = true;
      return;
    }
    this.#timer.hidden = false;
    this.#timer.textContent = formatClock(((c.endedAt || Date.now()) - c.answeredAt) / 1000);
  }

  #stopClock() {
    clearInterval(this.#tick);
    this.#tick = undefined;
  }

  /** close takes the panel off the page. */
  close() {
    this.#stopClock();
    this.#keypad.close();
    this.audio.srcObject = null;
    this.el.remove();
  }
}

/**
 * @typedef {object} RingCardView what an incoming call's card shows.
 * @property {string} caller the caller's name, else their number
 * @property {string} to the extension dialled, with its name when known
 * @property {boolean} busy a call is in progress: answering ends it
 * @property {boolean} answering the buttons wait for the answer
 */

/**
 * ringCard builds the card of an incoming call: a pulsing handset, who
 * calls and which extension, Decline and Answer.
 * @param {I18n} i18n
 * @param {{id: string, from: string}} ring
 * @param {{onAnswer: () => void, onDecline: () => void}} on
 * @returns {{el: HTMLElement, render: (v: RingCardView) => void}}
 */
export function ringCard(i18n, ring, on) {
  const name = h("div", { class: "ring-name", testid: "incoming-name" });
  const number = h("span", { class: "mono", testid: "incoming-number", text: ring.from });
  const to = h("span", { class: "ring-to", testid: "incoming-to" });
  const note = h("p", { class: "ring-note", i18n: "softphone.ends_current" });
  const answer = h(
    "button",
    { class: "ring-btn ring-btn-answer", testid: "incoming-answer", attrs: { type: "button" }, on: { click: on.onAnswer } },
    handsetIcon(),
    h("span", { i18n: "softphone.answer" }),
  );
  const decline = h(
    "button",
    { class: "ring-btn ring-btn-decline", testid: "incoming-decline", attrs: { type: "button" }, on: { click: on.onDecline } },
    handsetIcon("call-icon call-icon-down"),
    h("span", { i18n: "softphone.decline" }),
  );
  const el = h(
    "section",
    { class: "ring-card", testid: "incoming-call", data: { ring: ring.id }, attrs: { role: "group" } },
    h(
      "div",
      { class: "ring-top" },
      h("div", { class: "ring-icon" }, handsetIcon("call-icon ring-icon-svg")),
      h(
        "div",
        { class: "ring-body" },
        h("div", { class: "ring-title", i18n: "softphone.incoming" }),
        name,
        h("div", { class: "ring-meta" }, number, to),
      ),
    ),
    note,
    h("div", { class: "ring-actions" }, decline, answer),
  );
  i18n.translate(el);
  return {
    el,
    render(v) {
      name.textContent = v.caller;
      number.hidden = v.caller === ring.from; // no name: the number is the name
      to.textContent = v.to ? i18n.t("softphone.to", { to: v.to }) : "";
      note.hidden = !v.busy;
      answer.disabled = v.answering;
      decline.disabled = v.answering;
      el.setAttribute("aria-label", `${i18n.t("softphone.incoming")}: ${v.caller}`);
    },
  };
}
