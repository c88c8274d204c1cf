// @ts-check
// The alarm sound of the Building page: a short two-tone beep made in
// the browser with the Web Audio API (no audio file to ship, and nothing
// the CSP has to allow). Browsers only play sound after the person has
// interacted with the page; until then a beep is counted but silent, and
// the page still flashes.

const STORAGE_KEY = "civic.building.sound";

/**
 * beepSamples renders the beep as PCM: three short tones, 880 Hz, 660 Hz,
 * 880 Hz, each with a soft attack and release so it does not click.
 * @param {number} rate samples per second.
 * @returns {Float32Array}
 */
export function beepSamples(rate) {
  const tone = 0.14; // seconds per tone
  const gap = 0.05;
  const freqs = [880, 660, 880];
  const total = Math.ceil(rate * (freqs.length * (tone + gap)));
  const out = new Float32Array(total);
  const fade = Math.floor(rate * 0.01);
  freqs.forEach((f, i) => {
    const start = Math.floor(i * (tone + gap) * rate);
    const n = Math.floor(tone * rate);
    for (let k = 0; k < n; k++) {
      const env = Math.min(1, k / fade, (n - k) / fade);
      out[start + k] = 0.35 * env * Math.sin((2 * Math.PI * f * k) / rate);
    }
  });
  return out;
}

/**
 * AlarmSound plays the beep, unless the person turned the sound off.
 */
export class AlarmSound {
  /** @type {AudioContext | null} */
  #ctx = null;
  /** @type {AudioBuffer | null} */
  #buf = null;
  #on = true;
  /** how many beeps were asked for (played or, before any interaction, silent). */
  count = 0;
  /** @type {Storage | null} */
  #storage = null;
  #unlock = () => this.#resume();

  constructor() {
    try {
      this.#storage = window.localStorage;
      this.#on = this.#storage.getItem(STORAGE_KEY) !== "off";
    } catch {
      this.#storage = null;
    }
    // Any click or key on the page lets the audio context start.
    document.addEventListener("pointerdown", this.#unlock, true);
    document.addEventListener("keydown", this.#unlock, true);
  }

  /** @returns {boolean} */
  get on() {
    return this.#on;
  }

  /** @param {boolean} on */
  set on(on) {
    this.#on = on;
    try {
      this.#storage?.setItem(STORAGE_KEY, on ? "on" : "off");
    } catch {
      // The choice lasts this page only.
    }
  }

  #resume() {
    try {
      const AC = window.AudioContext;
      if (!AC) return;
      if (!this.#ctx) this.#ctx = new AC();
      if (this.#ctx.state === "suspended") this.#ctx.resume().catch(() => {});
    } catch {
      this.#ctx = null;
    }
  }

  /** beep plays the alarm sound once. */
  beep() {
    this.count++;
    if (!this.#on) return;
    this.#resume();
    const ctx = this.#ctx;
    if (!ctx) return;
    try {
      if (!this.#buf) {
        const pcm = beepSamples(ctx.sampleRate);
        this.#buf = ctx.createBuffer(1, pcm.length, ctx.sampleRate);
        this.#buf.getChannelData(0).set(pcm);
      }
      const src = ctx.createBufferSource();
      src.buffer = this.#buf;
      src.connect(ctx.destination);
      src.start();
    } catch {
      // No audio device: the flash still shows.
    }
  }

  destroy() {
    document.removeEventListener("pointerdown", this.#unlock, true);
    document.removeEventListener("keydown", this.#unlock, true);
    this.#ctx?.close().catch(() => {});
    this.#ctx = null;
  }
}
