// @ts-check
// The call panel's keypad (softphone-ui.js): twelve keys laid out like a
// phone's. A key pressed (clicked, or typed while the keypad is open and
// nothing on the page takes typing) goes to the other party as a DTMF
// digit: the send function the panel is given (softphone.js: one
// softphone.dtmf per key) is called once per key, one key after the
// other in the order pressed. Each key plays its own short DTMF pair
// quietly here, the keys sent so far show above the keys, and a key the
// server refused shows as a sentence for a few seconds. A door station's
// door opens this way (the answering desk presses the door's digit).

import { errorText, h } from "./ui.js";
import { svg } from "./views/meeting-phones.js";

/** @typedef {import("./i18n.js").I18n} I18n */

/** The keys in a phone's order, with the letters printed under them. */
export const KEYPAD_KEYS = Object.freeze([
  ["1", ""],
  ["2", "ABC"],
  ["3", "DEF"],
  ["4", "GHI"],
  ["5", "JKL"],
  ["6", "MNO"],
  ["7", "PQRS"],
  ["8", "TUV"],
  ["9", "WXYZ"],
  ["*", ""],
  ["0", "+"],
  ["#", ""],
]);

/** The DTMF grid (ITU-T Q.23): a key sounds its row's and its column's frequency. */
const DTMF_ROWS = ["123A", "456B", "789C", "*0#D"];
const DTMF_ROW_HZ = [697, 770, 852, 941];
const DTMF_COL_HZ = [1209, 1336, 1477, 1633];

/** The local feedback tone: this long, this quiet (each of the two frequencies). */
const TONE_S = 0.08;
const TONE_GAIN = 0.05;

/** How long a refused key's sentence stays. */
export const KEYPAD_ERROR_MS = 5000;

/** How many keys the display line shows (the newest). */
const SHOWN_KEYS = 14;

/**
 * dtmfPair gives the two frequencies (Hz) of a DTMF key, low then high;
 * null when key is none.
 * @param {string} key
 * @returns {[number, number] | null}
 */
export function dtmfPair(key) {
  if (key.length !== 1) return null;
  for (let r = 0; r < DTMF_ROWS.length; r++) {
    const c = DTMF_ROWS[r].indexOf(key);
    if (c >= 0) return [DTMF_ROW_HZ[r], DTMF_COL_HZ[c]];
  }
  return null;
}

/**
 * typedKey is the keypad key a keydown means: 0-9, * or #, typed without
 * Ctrl, Alt or Meta and not held down; "" for any other key.
 * @param {{key: string, repeat?: boolean, ctrlKey?: boolean, altKey?: boolean, metaKey?: boolean}} ev
 * @returns {string}
 */
export function typedKey(ev) {
  if (ev.repeat || ev.ctrlKey || ev.altKey || ev.metaKey) return "";
  return /^[0-9*#]$/.test(ev.key) ? ev.key : "";
}

/**
 * takesTyping reports whether typing goes into el (a field, a list, an
 * editable element), or into a modal dialog that is open.
 * @param {Element | null} el the focused element
 * @returns {boolean}
 */
function takesTyping(el) {
  if (document.querySelector("dialog[open]")) return true;
  if (!el) return false;
  if (el instanceof HTMLElement && el.isContentEditable) return true;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

/**
 * keypadErrorText explains why a key was not sent.
 * @param {I18n} i18n
 * @param {unknown} err
 * @returns {string}
 */
export function keypadErrorText(i18n, err) {
  const code = /** @type {{code?: unknown}} */ (err ?? {}).code;
  if (code === "conflict") return i18n.t("softphone.keypad.err.no_dtmf");
  if (code === "not_found") return i18n.t("softphone.keypad.err.no_call");
  if (code === "unknown_type") return i18n.t("softphone.keypad.err.old_server");
  return errorText(i18n, err);
}

/**
 * DtmfQueue sends keys one at a time, in the order pushed: a key goes
 * once the one before it was sent. When one is refused the keys behind
 * it are dropped (they would reach the phone out of order), and onError
 * is told.
 */
export class DtmfQueue {
  #send;
  #on;
  /** @type {string[]} keys pushed and not yet sent, the one on its way first */
  #pending = [];
  #sent = "";
  #busy = false;
  #stopped = false;

  /**
   * @param {(key: string) => Promise<unknown>} send sends one key
   * @param {{change: () => void, error: (err: unknown) => void}} on change: sent() or pending() changed
   */
  constructor(send, on) {
    this.#send = send;
    this.#on = on;
  }

  /** @returns {string} the keys sent so far, in order */
  sent() {
    return this.#sent;
  }

  /** @returns {string} the keys pressed and not yet sent */
  pending() {
    return this.#pending.join("");
  }

  /** @param {string} key */
  push(key) {
    if (this.#stopped) return;
    this.#pending.push(key);
    this.#on.change();
    void this.#pump();
  }

  /** stop drops the keys not yet sent and sends no more. */
  stop() {
    this.#stopped = true;
    this.#pending = [];
  }

  async #pump() {
    if (this.#busy) return;
    this.#busy = true;
    while (this.#pending.length > 0 && !this.#stopped) {
      const key = this.#pending[0];
      try {
        await this.#send(key);
      } catch (err) {
        this.#pending = [];
        this.#busy = false;
        if (!this.#stopped) {
          this.#on.change();
          this.#on.error(err);
        }
        return;
      }
      this.#pending.shift();
      this.#sent += key;
      if (!this.#stopped) this.#on.change();
    }
    this.#busy = false;
  }
}

/**
 * KeyTone plays a key's DTMF pair for TONE_S, quietly, with WebAudio.
 * Where the browser does not let audio start, it stays silent.
 */
export class KeyTone {
  /** @type {AudioContext | null} */
  #ctx = null;

  /** @param {string} key */
  play(key) {
    const pair = dtmfPair(key);
    if (!pair) return;
    let ctx;
    try {
      ctx = this.#ctx ??= new AudioContext();
    } catch {
      return; // no WebAudio
    }
    if (ctx.state === "running") {
      this.#sound(ctx, pair);
      return;
    }
    // Not allowed yet: play only if it starts at once (a late beep would
    // belong to no key).
    const asked = performance.now();
    void ctx.resume().then(
      () => {
        if (ctx === this.#ctx && ctx.state === "running" && performance.now() - asked < 100) this.#sound(ctx, pair);
      },
      () => {},
    );
  }

  /**
   * @param {AudioContext} ctx
   * @param {[number, number]} pair
   */
  #sound(ctx, pair) {
    try {
      const t = ctx.currentTime;
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, t);
      gain.gain.linearRampToValueAtTime(TONE_GAIN, t + 0.005);
      gain.gain.setValueAtTime(TONE_GAIN, t + TONE_S - 0.01);
      gain.gain.linearRampToValueAtTime(0, t + TONE_S);
      gain.connect(ctx.destination);
      for (const hz of pair) {
        const o = ctx.createOscillator();
        o.frequency.value = hz;
        o.connect(gain);
        o.start(t);
        o.stop(t + TONE_S + 0.01);
        o.onended = () => {
          o.disconnect();
          gain.disconnect();
        };
      }
    } catch {
      // A closed context: no beep.
    }
  }

  close() {
    void this.#ctx?.close().catch(() => {});
    this.#ctx = null;
  }
}

/**
 * keypadIcon draws twelve dots in a phone's grid, in currentColor.
 * @returns {SVGElement}
 */
function keypadIcon() {
  const dots = [];
  for (const y of [4.5, 9.5, 14.5]) for (const x of [6.5, 12, 17.5]) dots.push(svg("circle", { cx: String(x), cy: String(y), r: "1.9" }));
  dots.push(svg("circle", { cx: "12", cy: "19.5", r: "1.9" }));
  return svg("svg", { class: "call-icon", viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false", fill: "currentColor" }, ...dots);
}

/**
 * @typedef {object} KeypadView what the keypad shows.
 * @property {boolean} shown the call was answered: the toggle is there
 * @property {boolean} usable keys can be sent now (answered, not over)
 * @property {boolean} over the call is over: keys not yet sent are dropped
 */

/**
 * Keypad is the call panel's keypad: toggle is the button for the
 * panel's row of actions, el the keypad (hidden until toggled) with the
 * line where a refused key is explained.
 */
export class Keypad {
  #i18n;
  #queue;
  #tone = new KeyTone();
  #open = false;
  #usable = false;
  /** @type {(() => string) | null} */
  #error = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #errorTimer;
  /** @type {Map<string, HTMLButtonElement>} */
  #keys = new Map();
  /** @type {Map<HTMLElement, ReturnType<typeof setTimeout>>} */
  #flashes = new Map();
  #hint = h("span", { class: "keypad-hint", i18n: "softphone.keypad.hint" });
  #sent = h("span", { class: "keypad-sent mono", testid: "keypad-sent", data: { sent: "" } });
  #errorEl = h("p", { class: "call-error keypad-error", testid: "keypad-error", attrs: { role: "alert", hidden: true } });
  #onKeyDown = (/** @type {KeyboardEvent} */ ev) => {
    if (ev.defaultPrevented) return;
    const key = typedKey(ev);
    if (!key || takesTyping(document.activeElement)) return;
    ev.preventDefault();
    this.#press(key);
  };
  /** @type {HTMLElement} the keys and the display line above them */
  #pad;
  /** @type {HTMLButtonElement} */
  toggle;
  /** @type {HTMLElement} the refused key's sentence and the keypad, for the panel */
  el;

  /**
   * @param {I18n} i18n
   * @param {(key: string) => Promise<unknown>} send sends one key to the other party
   */
  constructor(i18n, send) {
    this.#i18n = i18n;
    this.#queue = new DtmfQueue(send, {
      change: () => this.#renderSent(),
      error: (err) => this.#showError(() => keypadErrorText(this.#i18n, err)),
    });
    this.toggle = h(
      "button",
      {
        class: "call-btn call-btn-keypad",
        testid: "call-keypad-toggle",
        attrs: { type: "button", "aria-expanded": "false", hidden: true },
        on: { click: () => this.#setOpen(!this.#open) },
      },
      h("span", { class: "call-btn-icon" }, keypadIcon()),
      h("span", { class: "call-btn-label", i18n: "softphone.keypad" }),
    );
    const grid = h("div", { class: "keypad-grid", i18nAriaLabel: "softphone.keypad", attrs: { role: "group" } });
    for (const [key, letters] of KEYPAD_KEYS) {
      const b = h(
        "button",
        {
          class: "keypad-key",
          testid: "keypad-key",
          data: { key },
          attrs: { type: "button", "aria-label": letters && key !== "0" ? `${key} ${letters}` : key },
          on: { click: () => this.#press(key) },
        },
        h("span", { class: "keypad-digit", text: key }),
        h("span", { class: "keypad-letters", text: letters, attrs: { "aria-hidden": "true" } }),
      );
      this.#keys.set(key, b);
      grid.append(b);
    }
    this.#pad = h(
      "div",
      { class: "keypad", testid: "keypad", attrs: { id: `keypad-${Math.random().toString(36).slice(2, 10)}`, hidden: true } },
      h("div", { class: "keypad-display", attrs: { "aria-live": "polite" } }, this.#hint, this.#sent),
      grid,
    );
    this.toggle.setAttribute("aria-controls", this.#pad.id);
    // A refused key's sentence covers the display line while the keypad
    // is open (the panel keeps its height), and shows above where it was
    // when it was closed meanwhile.
    this.el = h("div", { class: "keypad-area" }, this.#errorEl, this.#pad);
    this.#renderSent();
  }

  /**
   * render shows the toggle once the call is answered and lets keys be
   * pressed while it is up.
   * @param {KeypadView} v
   */
  render(v) {
    this.#usable = v.usable;
    if (v.over && this.#queue.pending() !== "") {
      this.#queue.stop();
      this.#renderSent();
    }
    this.toggle.hidden = !v.shown;
    this.toggle.disabled = !v.usable;
    for (const b of this.#keys.values()) b.disabled = !v.usable;
    if (!v.shown && this.#open) this.#setOpen(false);
    const why = this.#error?.() ?? "";
    this.#errorEl.textContent = why;
    this.#errorEl.hidden = why === "";
  }

  /** close stops sending, the tone and the keyboard. */
  close() {
    this.#queue.stop();
    this.#setOpen(false);
    clearTimeout(this.#errorTimer);
    for (const t of this.#flashes.values()) clearTimeout(t);
    this.#flashes.clear();
    this.#tone.close();
  }

  /** @param {boolean} open */
  #setOpen(open) {
    if (open === this.#open) return;
    this.#open = open;
    this.#pad.hidden = !open;
    this.el.classList.toggle("is-open", open);
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) document.addEventListener("keydown", this.#onKeyDown);
    else document.removeEventListener("keydown", this.#onKeyDown);
  }

  /** @param {string} key */
  #press(key) {
    if (!this.#usable || !this.#open) return;
    const b = this.#keys.get(key);
    if (b) this.#flash(b);
    this.#tone.play(key);
    this.#hideError();
    this.#queue.push(key);
  }

  /**
   * flash lights a key for a moment, as if pressed (keys typed on the
   * keyboard show this way too).
   * @param {HTMLElement} b
   */
  #flash(b) {
    clearTimeout(this.#flashes.get(b));
    b.classList.add("is-pressed");
    this.#flashes.set(
      b,
      setTimeout(() => {
        b.classList.remove("is-pressed");
        this.#flashes.delete(b);
      }, 140),
    );
  }

  #renderSent() {
    const sent = this.#queue.sent();
    const pending = this.#queue.pending();
    const all = sent + pending;
    const from = Math.max(0, all.length - SHOWN_KEYS);
    const shownSent = from < sent.length ? sent.slice(from) : "";
    const shownPending = pending.slice(Math.max(0, from - sent.length));
    this.#sent.dataset.sent = sent;
    this.#sent.replaceChildren(
      ...(from > 0 ? [h("span", { class: "keypad-more", text: "…" })] : []),
      shownSent,
      ...(shownPending ? [h("span", { class: "keypad-pending", text: shownPending })] : []),
    );
    this.#hint.hidden = all !== "";
  }

  /** @param {() => string} why */
  #showError(why) {
    this.#error = why;
    this.#errorEl.textContent = why();
    this.#errorEl.hidden = false;
    clearTimeout(this.#errorTimer);
    this.#errorTimer = setTimeout(() => this.#hideError(), KEYPAD_ERROR_MS);
  }

  #hideError() {
    clearTimeout(this.#errorTimer);
    this.#error = null;
    this.#errorEl.hidden = true;
    this.#errorEl.textContent = "";
  }
}
