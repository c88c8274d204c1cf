// @ts-check
// The browser side of a meeting: a publish peer connection (the browser
// offers, civicd answers) and a subscribe peer connection (civicd offers,
// the browser answers, one offer at a time), signalled over the console
// websocket. After the websocket drops and comes back, the participant is
// taken back with conference.rejoin and ICE is restarted on both sides.

import { REQUEST_TYPES } from "./protocol.js";

/** @typedef {import("./ws.js").ConsoleClient} ConsoleClient */
/** @typedef {import("./ws.js").ConsoleEvent} ConsoleEvent */

/**
 * @typedef {object} Peer
 * @property {string} id
 * @property {string} name
 * @property {boolean} [muted]
 * @property {boolean} [hand]
 * @property {boolean} [phone] a desk phone bridged in: one audio track, no video
 */

/**
 * @typedef {object} JoinResult
 * @property {string} participant_id
 * @property {{room: string, title: string, host: string}} meeting
 * @property {RTCIceServer[]} ice_servers
 * @property {Peer[]} participants
 * @property {boolean} host
 * @property {{from: Peer, text: string, at: string}[]} chat
 * @property {{enabled: boolean, waiting: {id: string, name: string, since: string}[]}} [waiting_room] for hosts: the lobby
 * @property {{number: string, pin: string}} [dial_in] how desk phones join: the number to dial, then the PIN and #
 */

/** How long to wait for local ICE candidates before sending anyway. */
const GATHER_MS = 3000;

/**
 * The camera's simulcast layers, lowest first: civicd forwards each
 * viewer the one that fits their tile and their bandwidth, and tells the
 * page to pause layers nobody takes.
 * @type {RTCRtpEncodingParameters[]}
 */
export const CAMERA_LAYERS = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** How long tile sizes settle before they are reported. */
const VIEW_REPORT_MS = 250;

/** How long a connection may stay disconnected before ICE is restarted. */
const ICE_GRACE_MS = 3000;

/**
 * waitGathered resolves when pc has gathered its candidates (or after GATHER_MS).
 * @param {RTCPeerConnection} pc
 * @returns {Promise<void>}
 */
function waitGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/**
 * MeetingConnection joins one meeting and keeps its media flowing.
 */
export class MeetingConnection {
  #client;
  #room;
  #onEvent;
  #onTrack;
  #onLost;
  /** @type {RTCPeerConnection | null} */
  #pub = null;
  /** @type {RTCPeerConnection | null} */
  #sub = null;
  /** @type {MediaStream | null} */
  #local = null;
  /** @type {() => void} */
  #closeStream = () => {};
  /** @type {Promise<void>} */
  #offers = Promise.resolve();
  #id = "";
  #left = false;
  /** @type {RTCIceServer[]} */
  #ice = [];

  /**
   * @param {object} opts
   * @param {ConsoleClient} opts.client
   * @param {string} opts.room
   * @param {(ev: ConsoleEvent) => void} opts.onEvent room events other than offers.
   * @param {(track: MediaStreamTrack, stream: MediaStream) => void} opts.onTrack gets each forwarded track; the stream id is the publisher's participant id, plus "/N" for their screen shares.
   * @param {() => void} opts.onLost the websocket dropped; call rejoin once it is back.
   */
  constructor(opts) {
    this.#client = opts.client;
    this.#room = opts.room;
    this.#onEvent = opts.onEvent;
    this.#onTrack = opts.onTrack;
    this.#onLost = opts.onLost;
  }

  /** @returns {string} this participant's id. */
  get id() {
    return this.#id;
  }

  /**
   * join enters the meeting and publishes local (may be null: receive only).
   * @param {MediaStream | null} local
   * @param {string} [name] shown on your tile; default your display name.
   * @param {string} [passcode] the meeting's passcode, when it has one.
   * @returns {Promise<JoinResult>}
   */
  async join(local, name = "", passcode = "") {
    this.#local = local;
    /** @type {Record<string, unknown>} */
    const params = { room: this.#room };
    if (name) params.name = name;
    if (passcode) params.passcode = passcode;
    const res = /** @type {JoinResult} */ (await this.#open(REQUEST_TYPES.CONFERENCE_JOIN, params));
    this.#id = res.participant_id;
    this.#ice = res.ice_servers ?? [];
    this.#sub = new RTCPeerConnection({ iceServers: this.#ice });
    this.#watchIce(this.#sub);
    this.#sub.ontrack = (ev) => {
      const stream = ev.streams[0];
      if (stream) this.#onTrack(ev.track, stream);
    };
    if (local && local.getTracks().length > 0) {
      const pub = this.#publisher();
      for (const track of local.getTracks()) {
        /** @type {RTCRtpTransceiverInit} */
        const init = { direction: "sendonly", streams: [local] };
        if (track.kind === "video") init.sendEncodings = CAMERA_LAYERS.map((l) => ({ ...l }));
        pub.addTransceiver(track, init);
      }
      await this.#publishOffer(false);
    }
    return res;
  }

  /** @returns {RTCPeerConnection} the publish connection, made on first use. */
  #publisher() {
    if (!this.#pub) {
      this.#pub = new RTCPeerConnection({ iceServers: this.#ice });
      this.#watchIce(this.#pub);
    }
    return this.#pub;
  }

  /** @type {RTCRtpSender | null} */
  #screen = null;

  /**
   * shareScreen asks the browser for a screen and publishes it as a second
   * stream. onEnded is called when the sharing stops from the browser's
   * own controls.
   * @param {() => void} onEnded
   * @returns {Promise<MediaStream>}
   */
  async shareScreen(onEnded) {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    this.#screen = this.#publisher().addTrack(track, stream);
    track.addEventListener("ended", () => {
      void this.stopScreen().finally(onEnded);
    });
    await this.#publishOffer(false);
    return stream;
  }

  /** stopScreen stops sharing the screen. */
  async stopScreen() {
    const sender = this.#screen;
    if (!sender || !this.#pub || this.#left) return;
    this.#screen = null;
    sender.track?.stop();
    this.#pub.removeTrack(sender);
    await this.#publishOffer(false);
  }

  /** @type {ReturnType<typeof setTimeout> | null} */
  #iceTimer = null;
  #restarting = false;

  /**
   * watchIce restarts ICE when the media path breaks while the websocket
   * stays up (a new network, a dropped Wi-Fi): at once when ICE fails,
   * after ICE_GRACE_MS when it stays disconnected.
   * @param {RTCPeerConnection} pc
   */
  #watchIce(pc) {
    pc.addEventListener("iceconnectionstatechange", () => {
      const st = pc.iceConnectionState;
      if (st === "failed") {
        void this.restartIce();
      } else if (st === "disconnected" && !this.#iceTimer) {
        this.#iceTimer = setTimeout(() => {
          this.#iceTimer = null;
          if (pc.iceConnectionState === "disconnected") void this.restartIce();
        }, ICE_GRACE_MS);
      }
    });
  }

  /**
   * restartIce restarts ICE on both connections: a new publish offer, and
   * a new subscribe offer asked of civicd.
   */
  async restartIce() {
    if (this.#restarting || this.#left || !this.#id) return;
    this.#restarting = true;
    try {
      if (this.#pub) await this.#publishOffer(true);
      await this.#client.request(REQUEST_TYPES.WEBRTC_RESTART, {});
    } catch (err) {
      console.warn("ICE restart failed", err);
    } finally {
      this.#restarting = false;
    }
  }

  /**
   * rejoin takes the participant back after the websocket came back, and
   * restarts ICE on both connections.
   * @returns {Promise<JoinResult>}
   */
  async rejoin() {
    const res = /** @type {JoinResult} */ (await this.#open(REQUEST_TYPES.CONFERENCE_REJOIN, { participant_id: this.#id }));
    if (this.#pub) await this.#publishOffer(true);
    await this.#client.request(REQUEST_TYPES.WEBRTC_RESTART, {});
    return res;
  }

  /**
   * @param {string} type
   * @param {Record<string, unknown>} params
   */
  #open(type, params) {
    this.#closeStream();
    const st = this.#client.stream(
      type,
      params,
      (ev) => this.#handle(ev),
      () => {
        if (!this.#left) this.#onLost();
      },
    );
    this.#closeStream = st.close;
    return st.result;
  }

  /**
   * @param {boolean} restart
   */
  #publishOffer(restart) {
    // One publish negotiation at a time.
    const next = this.#pubQueue.then(() => this.#negotiatePublish(restart));
    this.#pubQueue = next.catch(() => {});
    return next;
  }

  /** @type {Promise<void>} */
  #pubQueue = Promise.resolve();

  /**
   * @param {boolean} restart
   */
  async #negotiatePublish(restart) {
    const pub = /** @type {RTCPeerConnection} */ (this.#pub);
    const offer = await pub.createOffer({ iceRestart: restart });
    await pub.setLocalDescription(offer);
    await waitGathered(pub);
    const res = await this.#client.request(REQUEST_TYPES.WEBRTC_OFFER, { sdp: pub.localDescription?.sdp ?? "" });
    await pub.setRemoteDescription({ type: "answer", sdp: res.sdp });
  }

  /**
   * @param {ConsoleEvent} ev
   */
  #handle(ev) {
    if (ev.kind === "publish.layers") {
      void this.#setLayers(/** @type {any} */ (ev.data));
      return;
    }
    if (ev.kind === "webrtc.offer") {
      const sdp = /** @type {any} */ (ev.data).sdp;
      // One offer at a time, in order.
      this.#offers = this.#offers.then(() => this.#answer(sdp)).catch((err) => console.warn("subscribe offer failed", err));
      return;
    }
    this.#onEvent(ev);
  }

  /**
   * @param {string} sdp
   */
  async #answer(sdp) {
    const sub = this.#sub;
    if (!sub || this.#left) return;
    await sub.setRemoteDescription({ type: "offer", sdp });
    const answer = await sub.createAnswer();
    await sub.setLocalDescription(answer);
    await waitGathered(sub);
    await this.#client.request(REQUEST_TYPES.WEBRTC_ANSWER, { sdp: sub.localDescription?.sdp ?? "" });
  }

  /**
   * setLayers pauses the simulcast layers of a published track that nobody
   * takes, and resumes the ones somebody does.
   * @param {{track_id: string, active: string[]}} msg
   */
  async #setLayers(msg) {
    const sender = this.#pub?.getSenders().find((s) => s.track?.id === msg.track_id);
    if (!sender) return;
    const params = sender.getParameters();
    let changed = false;
    for (const enc of params.encodings ?? []) {
      if (!enc.rid) continue;
      const active = msg.active.includes(enc.rid);
      if (enc.active !== active) {
        enc.active = active;
        changed = true;
      }
    }
    if (!changed) return;
    try {
      await sender.setParameters(params);
    } catch (err) {
      console.warn("pausing simulcast layers failed", err);
    }
  }

  /** @type {Map<string, {stream: string, width: number, height: number}>} */
  #views = new Map();
  /** @type {Map<string, string>} the sizes last reported, by stream */
  #reported = new Map();
  /** @type {ReturnType<typeof setTimeout> | null} */
  #viewTimer = null;
  /** @type {ResizeObserver | null} */
  #resize = null;
  /** @type {Map<Element, string>} */
  #watched = new Map();

  /**
   * watch reports the size at which video plays the stream id, as it
   * changes (a hidden element counts as not shown), so civicd can send
   * the layer that fits. Call unwatch when the element goes.
   * @param {HTMLVideoElement} video
   * @param {string} stream
   */
  watch(video, stream) {
    this.#resize ??= new ResizeObserver((entries) => {
      for (const e of entries) {
        const id = this.#watched.get(e.target);
        if (id) this.#setView(id, e.contentRect.width, e.contentRect.height);
      }
    });
    this.#watched.set(video, stream);
    this.#resize.observe(video);
  }

  /**
   * @param {HTMLVideoElement} video
   */
  unwatch(video) {
    this.#watched.delete(video);
    this.#resize?.unobserve(video);
  }

  /**
   * @param {string} stream
   * @param {number} width CSS pixels
   * @param {number} height CSS pixels
   */
  #setView(stream, width, height) {
    const dpr = window.devicePixelRatio || 1;
    this.#views.set(stream, { stream, width: Math.round(width * dpr), height: Math.round(height * dpr) });
    if (this.#viewTimer) return;
    this.#viewTimer = setTimeout(() => {
      this.#viewTimer = null;
      const changed = [...this.#views.values()].filter((v) => this.#reported.get(v.stream) !== `${v.width}x${v.height}`);
      if (changed.length === 0 || this.#left) return;
      for (const v of changed) this.#reported.set(v.stream, `${v.width}x${v.height}`);
      this.#client.request(REQUEST_TYPES.CONFERENCE_VIEW, { views: changed }).catch(() => {
        for (const v of changed) this.#reported.delete(v.stream); // told again next time
      });
    }, VIEW_REPORT_MS);
  }

  /**
   * subscribeStats returns the subscribe connection's stats, or null.
   * @returns {Promise<RTCStatsReport | null>}
   */
  async subscribeStats() {
    return this.#sub ? this.#sub.getStats() : null;
  }

  /**
   * leave leaves the meeting and closes both connections.
   * @param {boolean} [tellServer] false when the server already ended it.
   */
  async leave(tellServer = true) {
    if (this.#left) return;
    this.#left = true;
    this.#closeStream();
    if (tellServer) {
      try {
        await this.#client.request(REQUEST_TYPES.CONFERENCE_LEAVE, {});
      } catch {
        // Not in the meeting any more, or offline: the server lets the
        // participant go when the socket ends.
      }
    }
    this.#pub?.close();
    this.#sub?.close();
    for (const t of this.#local?.getTracks() ?? []) t.stop();
  }
}
