// @ts-check
// The browser side of a camera's live view. civicd offers one H.264
// track (camera.watch), the browser answers (camera.answer) and trickles
// its own ICE candidates (camera.candidate); the video plays muted in a
// <video> that the caller places. When the view ends (camera.ended on the
// watch request, a failed connection, a lost websocket) the viewer
// watches again after 1 s, 2 s, 5 s, then every 10 s, so live view comes
// back by itself when the camera or the network does.
//
// Tests read every active viewer's figures with window.civicCameraStats().

import { REQUEST_TYPES } from "./protocol.js";

/** @typedef {import("./ws.js").ConsoleClient} ConsoleClient */
/** @typedef {import("./ws.js").ConsoleError} ConsoleError */
/** @typedef {import("./views/cameras-model.js").CameraStatus} CameraStatus */

/**
 * @typedef {"idle" | "connecting" | "waiting" | "live" | "reconnecting" | "failed" | "stopped"} ViewPhase
 *   connecting: asking civicd and connecting; waiting: connected, no
 *   picture yet; live: the picture plays; reconnecting: waiting to watch
 *   again; failed: not retrying (the camera is gone, or not allowed).
 */

/**
 * @typedef {object} ViewState what onstate gets.
 * @property {ViewPhase} phase
 * @property {string} camera
 * @property {CameraStatus | null} status the camera's state when the watch began.
 * @property {ConsoleError | null} error why the last attempt failed, if it did.
 * @property {number} retryMs the wait before the next attempt (reconnecting).
 */

/**
 * @typedef {object} ViewerStats one viewer's figures for tests.
 * @property {string} camera
 * @property {string} viewer civicd's viewer id, "" between attempts.
 * @property {ViewPhase} phase
 * @property {number} framesDecoded
 * @property {number} frameWidth
 * @property {number} frameHeight
 * @property {string} connectionState the RTCPeerConnection's, "new" without one.
 */

/** The waits before watching again, in milliseconds; the last repeats. */
export const WATCH_BACKOFF_MS = Object.freeze([1000, 2000, 5000, 10000]);

/** How long a connection may stay disconnected before the viewer starts over. */
const DISCONNECT_GRACE_MS = 4000;

/** Errors after which watching again cannot help. */
const FINAL_ERRORS = new Set(["not_found", "not_allowed", "closed"]);

/**
 * watchBackoff is the wait before attempt n (0-based) to watch again.
 * @param {number} attempt
 * @returns {number}
 */
export function watchBackoff(attempt) {
  return WATCH_BACKOFF_MS[Math.min(Math.max(0, attempt), WATCH_BACKOFF_MS.length - 1)];
}

/** @type {Set<CameraViewer>} the viewers watching now, for civicCameraStats. */
const active = new Set();

/**
 * cameraStats returns the figures of every active viewer, read from each
 * peer connection's getStats (inbound video).
 * @returns {Promise<ViewerStats[]>}
 */
export function cameraStats() {
  return Promise.all([...active].map((v) => v.stats()));
}

if (typeof window !== "undefined") {
  /** @type {any} */ (window).civicCameraStats = cameraStats;
}

/**
 * newVideo makes the element a camera plays in: muted, so it may start
 * by itself, and inline on phones.
 * @returns {HTMLVideoElement}
 */
export function newVideo() {
  const v = document.createElement("video");
  v.muted = true;
  v.autoplay = true;
  v.playsInline = true;
  v.setAttribute("muted", "");
  v.setAttribute("autoplay", "");
  v.setAttribute("playsinline", "");
  return v;
}

/**
 * CameraViewer watches one camera at a time in one <video>.
 */
export class CameraViewer {
  #client;
  #video;
  #camera = "";
  /** @type {RTCPeerConnection | null} */
  #pc = null;
  #viewer = "";
  /** @type {() => void} */
  #closeStream = () => {};
  /** @type {(() => void) | null} */
  #offState = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #discTimer;
  #attempt = 0;
  /** bumped by every new attempt and by stop: callbacks of older ones do nothing. */
  #gen = 0;
  /** @type {ViewPhase} */
  #phase = "idle";
  /** @type {CameraStatus | null} */
  #status = null;
  /** @type {ConsoleError | null} */
  #error = null;
  #retryMs = 0;

  /**
   * onstate is called on every change of phase.
   * @type {(s: ViewState) => void}
   */
  onstate = () => {};

  /**
   * @param {object} opts
   * @param {ConsoleClient} opts.client
   * @param {HTMLVideoElement} [opts.video] where to play; default a new one (see video).
   */
  constructor(opts) {
    this.#client = opts.client;
    this.#video = opts.video ?? newVideo();
    const playing = () => {
      if (this.#video.videoWidth > 0 && (this.#phase === "connecting" || this.#phase === "waiting")) {
        this.#attempt = 0;
        this.#set("live");
      }
    };
    this.#video.addEventListener("playing", playing);
    this.#video.addEventListener("resize", playing);
  }

  /** @returns {HTMLVideoElement} the element the camera plays in. */
  get video() {
    return this.#video;
  }

  /** @returns {string} the camera watched, "" when none. */
  get camera() {
    return this.#camera;
  }

  /** @returns {ViewPhase} */
  get phase() {
    return this.#phase;
  }

  /** @returns {ViewState} */
  get state() {
    return { phase: this.#phase, camera: this.#camera, status: this.#status, error: this.#error, retryMs: this.#retryMs };
  }

  /**
   * watch starts watching a camera (and stops watching the one before).
   * @param {string} cameraId
   * @returns {HTMLVideoElement} the element it plays in.
   */
  watch(cameraId) {
    this.#halt();
    this.#camera = cameraId;
    this.#video.dataset.camera = cameraId;
    this.#attempt = 0;
    this.#status = null;
    active.add(this);
    void this.#start();
    return this.#video;
  }

  /** stop stops watching; the element stays, empty. */
  stop() {
    this.#halt();
    active.delete(this);
    this.#camera = "";
    delete this.#video.dataset.camera;
    this.#set("stopped");
  }

  /**
   * retryNow watches again at once when the viewer is waiting to retry or
   * has given up (the camera came back, or was added again).
   */
  retryNow() {
    if (!this.#camera || (this.#phase !== "reconnecting" && this.#phase !== "failed")) return;
    this.#halt();
    this.#attempt = 0;
    void this.#start();
  }

  /**
   * stats reads this viewer's figures.
   * @returns {Promise<ViewerStats>}
   */
  async stats() {
    const pc = this.#pc;
    /** @type {ViewerStats} */
    const out = {
      camera: this.#camera,
      viewer: this.#viewer,
      phase: this.#phase,
      framesDecoded: 0,
      frameWidth: 0,
      frameHeight: 0,
      connectionState: pc ? pc.connectionState : "new",
    };
    if (!pc) return out;
    try {
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          out.framesDecoded = Number(s.framesDecoded ?? 0);
          out.frameWidth = Number(s.frameWidth ?? 0);
          out.frameHeight = Number(s.frameHeight ?? 0);
        }
      });
    } catch {
      // Closed meanwhile: the zeros stand.
    }
    return out;
  }

  /**
   * @param {ViewPhase} phase
   * @param {ConsoleError | null} [error]
   * @param {number} [retryMs]
   */
  #set(phase, error = null, retryMs = 0) {
    this.#phase = phase;
    this.#error = error;
    this.#retryMs = retryMs;
    this.#video.dataset.phase = phase;
    this.onstate(this.state);
  }

  /** #halt ends the current attempt and any wait: nothing older acts after it. */
  #halt() {
    this.#gen++;
    clearTimeout(this.#retryTimer);
    this.#teardown();
  }

  /** #teardown lets go of the current connection and civicd's viewer. */
  #teardown() {
    clearTimeout(this.#discTimer);
    this.#discTimer = undefined;
    this.#offState?.();
    this.#offState = null;
    this.#closeStream();
    this.#closeStream = () => {};
    if (this.#viewer) {
      const viewer = this.#viewer;
      this.#viewer = "";
      if (this.#client.state === "online") {
        this.#client.request(REQUEST_TYPES.CAMERA_UNWATCH, { viewer }).catch(() => {
          // Ended already (camera.ended), or the socket went: civicd lets it go.
        });
      }
    }
    const pc = this.#pc;
    this.#pc = null;
    if (pc) {
      pc.onicecandidate = null;
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
    this.#video.srcObject = null;
  }

  /** #start makes one attempt to watch the camera. */
  async #start() {
    const gen = ++this.#gen;
    const client = this.#client;
    if (client.state !== "online") {
      // Wait for the console's connection, then try at once.
      this.#set("reconnecting", this.#error, 0);
      this.#offState = client.onState((s) => {
        if (s !== "online" || gen !== this.#gen) return;
        this.#offState?.();
        this.#offState = null;
        void this.#start();
      });
      return;
    }
    this.#set("connecting", null);
    const st = client.stream(
      REQUEST_TYPES.CAMERA_WATCH,
      { camera: this.#camera },
      (ev) => {
        if (ev.kind === "camera.ended") this.#lost(gen, null);
      },
      () => this.#lost(gen, null),
    );
    this.#closeStream = st.close;
    /** @type {{viewer: string, sdp: string, ice_servers?: RTCIceServer[], status?: CameraStatus}} */
    let res;
    try {
      res = await st.result;
    } catch (err) {
      this.#lost(gen, /** @type {ConsoleError} */ (err));
      return;
    }
    if (gen !== this.#gen) {
      // Stopped, or moved to another camera, while civicd made the offer.
      st.close();
      client.request(REQUEST_TYPES.CAMERA_UNWATCH, { viewer: res.viewer }).catch(() => {});
      return;
    }
    this.#viewer = res.viewer;
    this.#status = res.status ?? null;
    const pc = new RTCPeerConnection({ iceServers: res.ice_servers ?? [] });
    this.#pc = pc;
    /** @type {RTCIceCandidateInit[]} candidates found before civicd has the answer */
    let early = [];
    let answered = false;
    /** @param {RTCIceCandidateInit} candidate */
    const send = (candidate) => {
      client.request(REQUEST_TYPES.CAMERA_CANDIDATE, { viewer: res.viewer, candidate }).catch(() => {
        // civicd's own candidates are in the offer; one of ours lost is not fatal.
      });
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate || !e.candidate.candidate || gen !== this.#gen) return;
      const c = e.candidate.toJSON();
      if (answered) send(c);
      else early.push(c);
    };
    pc.ontrack = (e) => {
      if (gen !== this.#gen) return;
      this.#video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      this.#video.play().catch(() => {
        // Autoplay of a muted video is allowed; "playing" follows.
      });
    };
    pc.onconnectionstatechange = () => this.#onConnection(gen, pc);
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: res.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await client.request(REQUEST_TYPES.CAMERA_ANSWER, { viewer: res.viewer, sdp: pc.localDescription?.sdp ?? answer.sdp ?? "" });
      answered = true;
      for (const c of early) send(c);
      early = [];
    } catch (err) {
      this.#lost(gen, /** @type {ConsoleError} */ (err));
    }
  }

  /**
   * @param {number} gen
   * @param {RTCPeerConnection} pc
   */
  #onConnection(gen, pc) {
    if (gen !== this.#gen) return;
    switch (pc.connectionState) {
      case "connected":
        clearTimeout(this.#discTimer);
        this.#discTimer = undefined;
        if (this.#phase === "connecting") this.#set(this.#video.videoWidth > 0 ? "live" : "waiting");
        break;
      case "disconnected":
        if (!this.#discTimer) {
          this.#discTimer = setTimeout(() => {
            this.#discTimer = undefined;
            if (gen === this.#gen && pc.connectionState !== "connected") this.#lost(gen, null);
          }, DISCONNECT_GRACE_MS);
        }
        break;
      case "failed":
        this.#lost(gen, null);
        break;
    }
  }

  /**
   * #lost ends a failed or ended attempt and schedules the next one,
   * unless trying again cannot help.
   * @param {number} gen the attempt's.
   * @param {ConsoleError | null} err
   */
  #lost(gen, err) {
    if (gen !== this.#gen) return;
    const next = ++this.#gen;
    this.#teardown();
    const code = err && typeof err === "object" && "code" in err ? String(err.code) : "";
    if (err && !code) err = /** @type {ConsoleError} */ (/** @type {unknown} */ ({ code: "internal_error", message: String(err) }));
    if (FINAL_ERRORS.has(code)) {
      this.#set("failed", err);
      return;
    }
    const delay = watchBackoff(this.#attempt++);
    this.#set("reconnecting", err, delay);
    this.#retryTimer = setTimeout(() => {
      if (next === this.#gen) void this.#start();
    }, delay);
  }
}
