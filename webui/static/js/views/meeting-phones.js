// @ts-check
// Desk phones in meetings: the dial-in line (the number a desk phone dials
// and the meeting's PIN), the phone icon, the face of a phone's tile (the
// icon instead of video, and an <audio> element that plays its one audio
// track), and the test hooks that read the audio the page receives.
// meeting.js and meetings.js use it; so does the softphone (svg and the
// tone meter).

import { h } from "../ui.js";

/** @typedef {import("../i18n.js").I18n} I18n */

/**
 * @typedef {object} DialIn
 * @property {string} number what a desk phone dials: the dial-in prefix and the room
 * @property {string} pin the meeting's PIN, keyed after the number and ended with #
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * svg makes an SVG element with attributes (the softphone draws its icons
 * with it too).
 * @param {string} tag
 * @param {Record<string, string>} attrs
 * @param {...SVGElement} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/**
 * phoneIcon draws a desk phone (a handset resting on a keypad base) in
 * currentColor. It is decorative: the text beside it says what it is.
 * @param {string} [cls] its class, for sizing
 * @returns {SVGElement}
 */
export function phoneIcon(cls = "phone-icon") {
  const keys = [];
  for (const y of [14.6, 17.4]) for (const x of [9, 12, 15]) keys.push(svg("circle", { cx: String(x), cy: String(y), r: "0.95" }));
  return svg(
    "svg",
    { class: cls, viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false", "data-testid": "phone-icon" },
    // The handset: a bar with its two cups.
    svg("path", { d: "M2.5 8.2C2.5 5.6 6.8 3.8 12 3.8s9.5 1.8 9.5 4.4v.9c0 .6-.5 1-1 1h-3.1c-.6 0-1-.4-1-1V7.6c-1.4-.4-2.9-.6-4.4-.6s-3 .2-4.4.6v1.5c0 .6-.4 1-1 1H3.5c-.5 0-1-.4-1-1z", fill: "currentColor" }),
    // The base, with the keypad.
    svg("path", { d: "M8 11h8l3.6 4.6c.3.4.4.8.4 1.2v2.4c0 .9-.7 1.6-1.6 1.6H5.6c-.9 0-1.6-.7-1.6-1.6v-2.4c0-.4.1-.8.4-1.2z", fill: "none", stroke: "currentColor", "stroke-width": "1.6", "stroke-linejoin": "round" }),
    svg("g", { fill: "currentColor" }, ...keys),
  );
}

/**
 * fillTemplate turns a translated sentence with {name} placeholders into
 * nodes, putting the given element where each placeholder stands (so a
 * number can carry its own testid and style in any word order).
 * @param {string} template
 * @param {Record<string, Node>} parts
 * @returns {(string | Node)[]}
 */
export function fillTemplate(template, parts) {
  /** @type {(string | Node)[]} */
  const out = [];
  let last = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    const node = parts[m[1]];
    if (!node) continue;
    if (m.index > last) out.push(template.slice(last, m.index));
    out.push(node);
    last = m.index + m[0].length;
  }
  if (last < template.length) out.push(template.slice(last));
  return out;
}

/**
 * dialInLine is the sentence "Dial in from a desk phone: NUMBER, PIN PIN #"
 * in the current language, the number and the PIN in elements of their
 * own (data-testid dialin-number and dialin-pin).
 * @param {I18n} i18n
 * @param {DialIn} d
 * @returns {HTMLElement}
 */
export function dialInLine(i18n, d) {
  const number = h("strong", { class: "mono dialin-value", testid: "dialin-number", text: d.number });
  const pin = h("strong", { class: "mono dialin-value", testid: "dialin-pin", text: d.pin });
  return h("span", { class: "dialin-text" }, ...fillTemplate(i18n.t("meeting.dialin"), { number, pin }));
}

/**
 * createDialInPanel is the meeting page's dial-in line, hidden until set
 * is given the join result's dial_in (every participant gets it).
 * @param {I18n} i18n
 * @returns {{el: HTMLElement, set: (d: DialIn | undefined) => void, relocalize: () => void}}
 */
export function createDialInPanel(i18n) {
  const el = h("p", { class: "dialin", testid: "dialin", attrs: { hidden: true } });
  /** @type {DialIn | undefined} */
  let current;
  const render = () => {
    el.hidden = !current;
    el.replaceChildren(...(current ? [phoneIcon("phone-icon dialin-icon"), dialInLine(i18n, current)] : []));
  };
  return {
    el,
    set: (d) => {
      current = d?.number && d.pin ? d : undefined;
      render();
    },
    relocalize: render,
  };
}

/**
 * phoneFace is what a phone participant's tile shows instead of video:
 * the phone icon and "Desk phone", and an <audio> element that plays
 * stream (a phone publishes one audio track and no video).
 * @param {MediaStream} stream
 * @returns {{face: HTMLElement, audio: HTMLAudioElement}}
 */
export function phoneFace(stream) {
  const audio = /** @type {HTMLAudioElement} */ (h("audio", { testid: "remote-audio", attrs: { autoplay: true } }));
  audio.srcObject = stream;
  const face = h("div", { class: "tile-phone" }, phoneIcon("phone-icon tile-phone-icon"), h("span", { class: "tile-phone-label", i18n: "meeting.phone" }), audio);
  return { face, audio };
}

/**
 * @typedef {object} AudioStat
 * @property {string} participant the publisher's participant id ("" when unknown)
 * @property {string} mimeType the codec, such as "audio/PCMU"
 * @property {number} audioLevel 0-1, the last level played
 * @property {number} totalAudioEnergy rises while sound (not silence) arrives
 * @property {number} totalSamplesReceived
 * @property {number} packetsReceived
 */

/**
 * inboundAudio lists the inbound-rtp audio streams of a stats report,
 * each with its codec and the participant who publishes it.
 * @param {RTCStatsReport} report
 * @param {(trackId: string) => string} ownerOf participant id of a received track id
 * @returns {AudioStat[]}
 */
export function inboundAudio(report, ownerOf) {
  /** @type {AudioStat[]} */
  const out = [];
  report.forEach((s) => {
    if (s.type !== "inbound-rtp" || s.kind !== "audio") return;
    const codec = s.codecId ? report.get(s.codecId) : undefined;
    out.push({
      participant: ownerOf(s.trackIdentifier ?? ""),
      mimeType: codec?.mimeType ?? "",
      audioLevel: s.audioLevel ?? 0,
      totalAudioEnergy: s.totalAudioEnergy ?? 0,
      totalSamplesReceived: s.totalSamplesReceived ?? 0,
      packetsReceived: s.packetsReceived ?? 0,
    });
  });
  return out;
}

/** Below this RMS (-60 dBFS) the audio counts as silence. */
const SILENT_RMS = 0.001;

/**
 * dominantHz finds the strongest frequency in averaged power spectra,
 * refined between bins by a parabola through the peak and its neighbours.
 * @param {Float64Array} power summed linear power per bin
 * @param {number} binHz width of a bin
 * @returns {number}
 */
export function dominantHz(power, binHz) {
  let k = -1;
  // Skip DC and the lowest bins (below 20 Hz).
  for (let i = Math.max(1, Math.ceil(20 / binHz)); i < power.length - 1; i++) if (k < 0 || power[i] > power[k]) k = i;
  if (k < 0 || power[k] <= 0) return 0;
  const [a, b, c] = [power[k - 1], power[k], power[k + 1]].map((p) => 10 * Math.log10(Math.max(p, 1e-30)));
  const den = a - 2 * b + c;
  const shift = den !== 0 ? (0.5 * (a - c)) / den : 0;
  return (k + Math.max(-0.5, Math.min(0.5, shift))) * binHz;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * measureTone listens to stream's audio for about ms and returns its
 * dominant frequency in Hz (0 when silent), with an AnalyserNode of
 * fftSize 8192.
 * @param {AudioContext} ctx
 * @param {MediaStream} stream
 * @param {number} [ms]
 * @returns {Promise<number>}
 */
export async function measureTone(ctx, stream, ms = 500) {
  const src = ctx.createMediaStreamSource(stream);
  const an = ctx.createAnalyser();
  an.fftSize = 8192;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  const db = new Float32Array(an.frequencyBinCount);
  const power = new Float64Array(an.frequencyBinCount);
  const wave = new Float32Array(an.fftSize);
  let loudest = 0;
  try {
    // The analyser's window (8192 samples, ~170 ms) fills first.
    const step = 50;
    await sleep(Math.max(step, (1000 * an.fftSize) / ctx.sampleRate));
    const end = performance.now() + ms - 200;
    do {
      an.getFloatFrequencyData(db);
      for (let i = 0; i < db.length; i++) power[i] += 10 ** (db[i] / 10);
      an.getFloatTimeDomainData(wave);
      let sum = 0;
      for (const v of wave) sum += v * v;
      loudest = Math.max(loudest, Math.sqrt(sum / wave.length));
      await sleep(step);
    } while (performance.now() < end);
  } finally {
    src.disconnect();
  }
  return loudest < SILENT_RMS ? 0 : dominantHz(power, ctx.sampleRate / an.fftSize);
}

/**
 * createToneMeter measures the dominant frequency of received audio (see
 * measureTone) with one AudioContext, made on first use; close releases
 * it. The meeting page's hooks and the softphone's use it.
 * @returns {{measure: (stream: MediaStream) => Promise<number>, close: () => void}}
 */
export function createToneMeter() {
  /** @type {AudioContext | null} */
  let ctx = null;
  return {
    async measure(stream) {
      const tracks = stream.getAudioTracks();
      if (tracks.length === 0) return 0;
      ctx ??= new AudioContext();
      if (ctx.state !== "running") await Promise.race([ctx.resume(), sleep(1000)]);
      if (ctx.state !== "running") throw new Error(`the AudioContext is ${ctx.state} (autoplay not allowed?)`);
      return measureTone(ctx, new MediaStream(tracks));
    },
    close() {
      void ctx?.close().catch(() => {});
      ctx = null;
    },
  };
}

/**
 * installAudioHooks puts the meeting page's audio test hooks on window and
 * returns a function that takes them away (and closes the AudioContext):
 *
 *   window.civicMeetingAudio() resolves to one AudioStat per inbound audio
 *   track of the subscribe connection (getStats: inbound-rtp of kind
 *   audio, its codec's mimeType, and the participant whose stream id the
 *   track came in).
 *
 *   window.civicToneHz(participantId) resolves to the dominant frequency
 *   (Hz) of that participant's received audio over ~0.5 s, 0 when silent;
 *   it rejects for a participant the page has no tile of.
 *
 * The e2e tests use them to prove that a desk phone's tone arrives.
 * @param {object} src
 * @param {() => Promise<RTCStatsReport | null>} src.stats the subscribe connection's stats
 * @param {(trackId: string) => string} src.ownerOf participant id of a received track id
 * @param {(participantId: string) => MediaStream | null} src.streamOf what the page plays of a participant
 * @returns {() => void}
 */
export function installAudioHooks(src) {
  const w = /** @type {any} */ (window);
  const meter = createToneMeter();
  const audio = async () => {
    const report = await src.stats();
    return report ? inboundAudio(report, src.ownerOf) : [];
  };
  /** @param {string} participantId */
  const tone = async (participantId) => {
    const stream = src.streamOf(participantId);
    if (!stream) throw new Error(`no tile for participant ${participantId}`);
    return meter.measure(stream);
  };
  w.civicMeetingAudio = audio;
  w.civicToneHz = tone;
  return () => {
    if (w.civicMeetingAudio === audio) delete w.civicMeetingAudio;
    if (w.civicToneHz === tone) delete w.civicToneHz;
    meter.close();
  };
}
