// @ts-check
// The meeting page (#/meeting/ROOM): self view, one tile per participant
// with the active speaker highlighted, mic/camera/hand/leave buttons,
// chat, and the host's controls (mute, mute all, remove, lock, end, invite
// guests, the lobby). A guest (invite link) waits in the lobby first; see
// meeting-lobby.js. Desk phones bridged in get a tile with a phone icon,
// and the dial-in number and PIN show in the header; see meeting-phones.js.
// A host can call a phone in ("Call a phone"); see meeting-dialout.js.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, confirmDialog, errorText, h } from "../ui.js";
import { MeetingConnection } from "../meeting-rtc.js";
import { createLobbyPanel, createWaitingScreen, lobbyClient, openInviteDialog } from "./meeting-lobby.js";
import { createDialInPanel, installAudioHooks, phoneFace, phoneIcon } from "./meeting-phones.js";
import { createDialOut } from "./meeting-dialout.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */
/** @typedef {import("../meeting-rtc.js").Peer} Peer */

/**
 * roomFromHash reads the room number of "#/meeting/123456".
 * @param {string} hash
 * @returns {string}
 */
export function roomFromHash(hash) {
  const m = /^#\/meeting\/(\d{6})$/.exec(hash);
  return m ? m[1] : "";
}

/**
 * @typedef {object} Tile
 * @property {Peer} peer
 * @property {HTMLElement} el
 * @property {HTMLMediaElement} media plays the stream: a video, or a phone's audio
 * @property {MediaStream} stream
 * @property {HTMLElement} name
 * @property {HTMLElement} badges
 * @property {HTMLElement} quality
 * @property {HTMLElement} controls
 */

/**
 * mountMeeting builds the meeting page and joins the meeting.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountMeeting(ctx) {
  const { client, i18n, notices } = ctx;
  const room = roomFromHash(location.hash);
  const isGuest = ctx.session.role === "guest";
  const error = new ErrorBox("meeting-error");
  /** @type {Map<string, Tile>} */
  const tiles = new Map();
  let isHost = false;
  let locked = false;
  let hand = false;
  let speaker = "";
  let gone = false;
  /** @type {MediaStream | null} */
  let local = null;
  let meetingTitle = "";
  /** @type {Map<string, string>} track id to participant id */
  const trackOwner = new Map();
  /** @type {Map<string, {bytes: number, at: number}>} last video counters per participant */
  const lastBytes = new Map();

  const heading = h("span", { class: "meeting-room mono", testid: "meeting-room" });
  const count = h("span", { class: "muted small", testid: "meeting-count" });
  const state = h("span", { class: "muted small", testid: "meeting-state", i18n: "meeting.joining" });
  const dialIn = createDialInPanel(i18n);
  const dialOut = createDialOut({ i18n, client });
  const selfVideo = h("video", { testid: "self-view", attrs: { autoplay: true, playsinline: true, muted: true } });
  selfVideo.muted = true;
  let selfMuted = false;
  // The host muted me: civicd drops my audio until the host unmutes me.
  const selfBadge = h("div", { class: "tile-badges" }, h("span", { class: "tag", testid: "self-muted", i18n: "meeting.muted" }));
  selfBadge.hidden = true;
  const selfTile = h("div", { class: "tile tile-self" }, selfVideo, h("div", { class: "tile-name", i18n: "meeting.you" }), selfBadge);
  const grid = h("div", { class: "meeting-grid", testid: "meeting-grid" }, selfTile);

  const micBtn = h("button", { class: "btn", testid: "meeting-mic", i18n: "meeting.mic_on", attrs: { type: "button" } });
  const camBtn = h("button", { class: "btn", testid: "meeting-cam", i18n: "meeting.cam_on", attrs: { type: "button" } });
  const shareBtn = h("button", { class: "btn", testid: "meeting-share", i18n: "meeting.share", attrs: { type: "button" } });
  const handBtn = h("button", { class: "btn", testid: "meeting-hand", i18n: "meeting.hand", attrs: { type: "button" } });
  const leaveBtn = h("button", { class: "btn btn-danger", testid: "meeting-leave", i18n: "meeting.leave", attrs: { type: "button" } });
  const muteAllBtn = h("button", { class: "btn", testid: "meeting-mute-all", i18n: "meeting.mute_all", attrs: { type: "button", hidden: true } });
  const lockBtn = h("button", { class: "btn", testid: "meeting-lock", i18n: "meeting.lock", attrs: { type: "button", hidden: true } });
  const endBtn = h("button", { class: "btn btn-danger-quiet", testid: "meeting-end", i18n: "meeting.end", attrs: { type: "button", hidden: true } });
  const inviteBtn = h("button", { class: "btn btn-small", testid: "meeting-invite", i18n: "meeting.invite", attrs: { type: "button", hidden: true } });
  const bar = h("div", { class: "meeting-bar" }, micBtn, camBtn, shareBtn, handBtn, muteAllBtn, lockBtn, endBtn, leaveBtn);
  const invites = h("span", { class: "lobby-invites" }, inviteBtn, dialOut.button);
  const lobbyPanel = createLobbyPanel({ i18n, act, notify: (text) => notices.show(text, "info"), invite: invites });

  const chatLog = h("ol", { class: "chat-log", testid: "chat-log" });
  const chatInput = h("input", { testid: "chat-input", i18nPlaceholder: "meeting.chat_ph", attrs: { maxlength: 2000 } });
  const chatForm = h("form", { class: "chat-form" }, chatInput, h("button", { class: "btn btn-small", testid: "chat-send", i18n: "meeting.send", attrs: { type: "submit" } }));
  const people = h("ul", { class: "people", testid: "participants" });
  const side = h(
    "aside",
    { class: "meeting-side card" },
    lobbyPanel.el,
    h("h2", { class: "card-title", i18n: "meeting.participants" }),
    people,
    h("h2", { class: "card-title", i18n: "meeting.chat" }),
    chatLog,
    chatForm,
  );

  const el = h(
    "div",
    { class: "page page-meeting" },
    error.el,
    h("div", { class: "meeting-head" }, heading, count, state, dialOut.strip, dialIn.el),
    h("div", { class: "meeting-body" }, h("section", { class: "meeting-main" }, grid, bar), side),
  );

  // A guest's join waits in the lobby until a host admits them.
  const waitScreen = createWaitingScreen(i18n, () => {
    waitScreen.el.hidden = true;
    void join(nameInput.value.trim(), "");
  });
  const conn = new MeetingConnection({
    client: isGuest
      ? lobbyClient(client, {
          onWaiting: (res) => {
            meetingTitle = res.meeting?.title ?? "";
            renderHeading();
            prejoin.hidden = true;
            waitScreen.waiting(meetingTitle);
          },
        })
      : client,
    room,
    onEvent: onRoomEvent,
    onTrack,
    onLost: () => {
      state.dataset.i18n = "meeting.reconnecting";
      i18n.translate(state);
    },
  });
  const offState = client.onState((s) => {
    if (s === "online" && conn.id && !gone && state.dataset.i18n === "meeting.reconnecting") {
      conn
        .rejoin()
        .then(() => {
          state.dataset.i18n = "";
          state.textContent = "";
        })
        .catch((err) => finish(() => errorText(i18n, err)));
    }
  });

  /**
   * @param {Peer} p
   * @returns {Tile}
   */
  function tileFor(p) {
    let t = tiles.get(p.id);
    if (t) {
      // A track can arrive before the participant's name does.
      if (p.name) t.name.textContent = p.name;
      update(t, p);
      return t;
    }
    const video = /** @type {HTMLVideoElement} */ (h("video", { testid: "remote-video", attrs: { autoplay: true, playsinline: true } }));
    const stream = new MediaStream();
    video.srcObject = stream;
    const badges = h("div", { class: "tile-badges" });
    const controls = h("div", { class: "tile-controls" });
    const name = h("div", { class: "tile-name", text: p.name });
    const quality = h("div", { class: "tile-quality", testid: "tile-quality" });
    const tileEl = h("div", { class: "tile", testid: "participant-tile", data: { participant: p.id } }, video, name, quality, badges, controls);
    t = { peer: p, el: tileEl, media: video, stream, name, badges, controls, quality };
    tiles.set(p.id, t);
    grid.append(tileEl);
    if (!p.phone) conn.watch(video, p.id); // civicd sends the simulcast layer that fits the tile
    update(t, p); // a phone's tile gets its phone face here
    return t;
  }

  /**
   * showAsPhone gives a desk phone's tile the phone icon and an audio
   * element instead of video. Its track may have come (and made a video
   * tile) before the participant was known to be a phone.
   * @param {Tile} t
   */
  function showAsPhone(t) {
    if (t.el.dataset.phone === "true") return;
    const { face, audio } = phoneFace(t.stream);
    if (t.media instanceof HTMLVideoElement) conn.unwatch(t.media);
    t.media.srcObject = null;
    t.media.replaceWith(face);
    t.media = audio;
    t.el.dataset.phone = "true";
    if (t.stream.getAudioTracks().length > 0) void audio.play().catch(() => {});
  }

  /**
   * @param {Tile} t
   * @param {Peer} p
   */
  function update(t, p) {
    t.peer = { ...t.peer, ...p };
    if (t.peer.phone) showAsPhone(t);
    t.badges.replaceChildren(
      ...(t.peer.muted ? [h("span", { class: "tag", i18n: "meeting.muted" })] : []),
      ...(t.peer.hand ? [h("span", { class: "tag tag-hand", text: "✋" })] : []),
    );
    t.el.classList.toggle("tile-speaking", t.peer.id === speaker);
    t.controls.replaceChildren();
    if (isHost) {
      const mute = h("button", { class: "btn btn-small", i18n: "meeting.mute", attrs: { type: "button" } });
      mute.addEventListener("click", () => act(REQUEST_TYPES.CONFERENCE_MUTE, { participant_id: t.peer.id, muted: !t.peer.muted }));
      const remove = h("button", { class: "btn btn-small btn-danger-quiet", testid: "participant-remove", i18n: "meeting.remove", attrs: { type: "button" } });
      remove.addEventListener("click", () => act(REQUEST_TYPES.CONFERENCE_REMOVE, { participant_id: t.peer.id }));
      t.controls.append(mute, remove);
    }
    i18n.translate(t.el);
    renderCount();
  }

  function renderCount() {
    count.textContent = conn.id ? i18n.t("meeting.people", { n: String(tiles.size + 1) }) : "";
    renderPeople();
  }

  /** renderPeople lists everyone, you first, with muted and hand marks. */
  function renderPeople() {
    /**
     * @param {string} name
     * @param {boolean} muted
     * @param {boolean} raised
     * @param {boolean} [phone]
     */
    const row = (name, muted, raised, phone = false) =>
      h(
        "li",
        { class: phone ? "person person-phone" : "person", data: phone ? { phone: "true" } : {} },
        phone ? h("span", { class: "person-icon", attrs: { title: i18n.t("meeting.phone"), "aria-label": i18n.t("meeting.phone"), role: "img" } }, phoneIcon()) : null,
        h("span", { class: "person-name", text: name }),
        raised ? h("span", { class: "tag tag-hand", text: "✋" }) : null,
        muted ? h("span", { class: "tag", text: i18n.t("meeting.muted") }) : null,
      );
    const me = `${nameInput.value.trim() || ctx.session.user.username} (${i18n.t("meeting.you")})`;
    people.replaceChildren(row(me, selfMuted, hand), ...[...tiles.values()].map((t) => row(t.peer.name, Boolean(t.peer.muted), Boolean(t.peer.hand), Boolean(t.peer.phone))));
  }

  function renderHeading() {
    const roomText = i18n.t("meeting.room", { room });
    heading.textContent = meetingTitle ? `${meetingTitle} · ${roomText}` : roomText;
  }

  /**
   * @param {MediaStreamTrack} track
   * @param {MediaStream} remote
   */
  function onTrack(track, remote) {
    const [participantId, screenNo] = remote.id.split("/");
    if (screenNo) {
      showScreen(participantId, remote);
      return;
    }
    const t = tiles.get(participantId) ?? tileFor({ id: participantId, name: "…" });
    trackOwner.set(track.id, participantId);
    t.stream.addTrack(track);
    track.addEventListener("ended", () => t.stream.removeTrack(track));
    // Chromium does not start an element that was given the stream while
    // it was empty on an audio-only track added later (it stays at
    // HAVE_NOTHING): give it the stream again until something plays.
    if (t.media.readyState === HTMLMediaElement.HAVE_NOTHING) t.media.srcObject = t.stream;
    void t.media.play().catch(() => {});
  }

  /** @type {Map<string, HTMLElement>} screen share tiles by stream id */
  const screens = new Map();

  /**
   * showScreen shows a participant's shared screen in a wide tile of its
   * own, until the stream has no tracks left.
   * @param {string} participantId
   * @param {MediaStream} remote
   */
  function showScreen(participantId, remote) {
    if (screens.has(remote.id)) return;
    const video = h("video", { testid: "screen-video", attrs: { autoplay: true, playsinline: true, muted: true } });
    video.muted = true;
    video.srcObject = remote;
    const who = tiles.get(participantId)?.peer.name ?? "";
    const label = h("div", { class: "tile-name", text: i18n.t("meeting.screen_of", { name: who }) });
    const tile = h("div", { class: "tile tile-screen", testid: "screen-tile", data: { participant: participantId } }, video, label);
    screens.set(remote.id, tile);
    grid.prepend(tile);
    remote.addEventListener("removetrack", () => {
      if (remote.getTracks().length === 0) {
        tile.remove();
        screens.delete(remote.id);
      }
    });
    void video.play().catch(() => {});
  }

  /**
   * @param {import("../ws.js").ConsoleEvent} ev
   */
  function onRoomEvent(ev) {
    const d = /** @type {any} */ (ev.data);
    switch (ev.kind) {
      case "participant.joined":
        tileFor(d.participant);
        break;
      case "participant.left": {
        const t = tiles.get(d.participant_id);
        if (t) {
          if (t.media instanceof HTMLVideoElement) conn.unwatch(t.media);
          t.el.remove();
          tiles.delete(d.participant_id);
          renderCount();
        }
        break;
      }
      case "participant.updated": {
        const p = d.participant;
        if (p.id === conn.id) {
          selfMuted = Boolean(p.muted);
          selfBadge.hidden = !selfMuted;
          renderPeople();
          if (selfMuted) notices.show(() => i18n.t("meeting.muted_by_host"), "info");
          break;
        }
        const t = tiles.get(p.id);
        if (t) update(t, p);
        break;
      }
      case "speaker.changed":
        speaker = d.participant_id;
        for (const t of tiles.values()) t.el.classList.toggle("tile-speaking", t.peer.id === speaker);
        break;
      case "chat.message":
        addChat(d);
        break;
      case "lobby.changed":
        lobbyPanel.update(d);
        break;
      case "meeting.locked":
        locked = Boolean(d.locked);
        lockBtn.dataset.i18n = locked ? "meeting.unlock" : "meeting.lock";
        i18n.translate(lockBtn);
        break;
      case "removed":
        finish(() => i18n.t("meeting.removed"), false);
        break;
      case "meeting.ended":
        finish(() => i18n.t("meeting.ended"), false);
        break;
    }
  }

  /**
   * @param {{from: Peer, text: string, at: string}} m
   */
  function addChat(m) {
    chatLog.append(h("li", { class: "chat-line" }, h("span", { class: "chat-from", text: m.from.name }), h("span", { class: "chat-text", text: m.text })));
    chatLog.scrollTop = chatLog.scrollHeight;
  }

  /**
   * @param {string} type
   * @param {Record<string, unknown>} params
   */
  async function act(type, params) {
    try {
      await client.request(type, params);
    } catch (err) {
      error.show(() => errorText(i18n, err));
    }
  }

  /**
   * finish leaves the page's meeting and shows why.
   * @param {() => string} why
   * @param {boolean} [tellServer]
   */
  function finish(why, tellServer = true) {
    if (gone) return;
    gone = true;
    void conn.leave(tellServer);
    error.show(why);
    bar.hidden = true;
    for (const t of tiles.values()) t.el.remove();
    tiles.clear();
  }

  micBtn.addEventListener("click", () => {
    const track = local?.getAudioTracks()[0];
    if (!track) return;
    track.enabled = !track.enabled;
    micBtn.dataset.i18n = track.enabled ? "meeting.mic_on" : "meeting.mic_off";
    i18n.translate(micBtn);
  });
  camBtn.addEventListener("click", () => {
    const track = local?.getVideoTracks()[0];
    if (!track) return;
    track.enabled = !track.enabled;
    camBtn.dataset.i18n = track.enabled ? "meeting.cam_on" : "meeting.cam_off";
    i18n.translate(camBtn);
  });
  let sharing = false;
  const shareLabel = () => {
    shareBtn.dataset.i18n = sharing ? "meeting.stop_share" : "meeting.share";
    i18n.translate(shareBtn);
  };
  shareBtn.addEventListener("click", async () => {
    try {
      if (sharing) {
        sharing = false;
        await conn.stopScreen();
      } else {
        await conn.shareScreen(() => {
          sharing = false;
          shareLabel();
        });
        sharing = true;
      }
    } catch (err) {
      // Cancelling the browser's picker is not an error worth showing.
      if (!(err instanceof DOMException && err.name === "NotAllowedError")) error.show(() => errorText(i18n, err));
    }
    shareLabel();
  });
  handBtn.addEventListener("click", () => {
    hand = !hand;
    handBtn.dataset.i18n = hand ? "meeting.hand_down" : "meeting.hand";
    i18n.translate(handBtn);
    renderPeople();
    void act(REQUEST_TYPES.CONFERENCE_HAND, { raised: hand });
  });
  muteAllBtn.addEventListener("click", () => act(REQUEST_TYPES.CONFERENCE_MUTE_ALL, {}));
  lockBtn.addEventListener("click", () => act(REQUEST_TYPES.CONFERENCE_LOCK, { locked: !locked }));
  endBtn.addEventListener("click", async () => {
    if (await confirmDialog(i18n, i18n.t("meeting.end_confirm"), { danger: true })) void act(REQUEST_TYPES.CONFERENCE_END, { room });
  });
  inviteBtn.addEventListener("click", () => openInviteDialog({ i18n, client, room }));
  leaveBtn.addEventListener("click", () => {
    if (isGuest) {
      // A guest has no meetings page to go back to.
      finish(() => i18n.t("guest.left"));
      return;
    }
    void conn.leave().finally(() => {
      location.hash = "#/meetings";
    });
  });
  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    chatInput.value = "";
    void act(REQUEST_TYPES.CONFERENCE_CHAT, { text });
  });

  // Connection quality per tile: video bitrate and loss from the subscribe
  // connection's inbound-rtp stats, and its round-trip time.
  async function showQuality() {
    const report = await conn.subscribeStats();
    if (!report) return;
    let rtt = NaN;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && typeof s.currentRoundTripTime === "number") rtt = s.currentRoundTripTime * 1000;
    });
    report.forEach((s) => {
      if (s.type !== "inbound-rtp" || s.kind !== "video") return;
      const pid = trackOwner.get(s.trackIdentifier);
      const t = pid ? tiles.get(pid) : undefined;
      if (!t || pid === undefined) return;
      const prev = lastBytes.get(pid);
      lastBytes.set(pid, { bytes: s.bytesReceived, at: s.timestamp });
      if (!prev || s.timestamp <= prev.at) return;
      const kbps = ((s.bytesReceived - prev.bytes) * 8) / (s.timestamp - prev.at);
      const lost = s.packetsLost > 0 ? (100 * s.packetsLost) / (s.packetsLost + s.packetsReceived) : 0;
      const parts = [kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${Math.round(kbps)} kbps`, `${lost.toFixed(1)}%`];
      if (!Number.isNaN(rtt)) parts.push(`${Math.round(rtt)} ms`);
      t.quality.textContent = parts.join(" · ");
      t.quality.classList.toggle("tile-quality-poor", lost > 5 || rtt > 300);
    });
  }
  const qualityTimer = setInterval(() => void showQuality().catch(() => {}), 2000);
  const removeAudioHooks = installAudioHooks({
    stats: () => conn.subscribeStats(),
    ownerOf: (trackId) => trackOwner.get(trackId) ?? "",
    streamOf: (id) => tiles.get(id)?.stream ?? null,
  });

  // Closing or reloading the page leaves at once; only a dropped socket
  // keeps the participant for a rejoin.
  const onPageHide = () => {
    if (!gone) {
      gone = true;
      void conn.leave();
    }
  };
  window.addEventListener("pagehide", onPageHide);

  // The pre-join screen: camera and microphone choice with a preview,
  // and the name to show.
  const preview = h("video", { testid: "prejoin-preview", attrs: { autoplay: true, playsinline: true, muted: true } });
  preview.muted = true;
  const camSelect = h("select", { testid: "prejoin-camera" });
  const micSelect = h("select", { testid: "prejoin-mic" });
  const nameInput = h("input", { testid: "prejoin-name", attrs: { maxlength: 64 } });
  nameInput.value = ctx.session.user.display_name || ctx.session.user.username;
  const joinBtn = h("button", { class: "btn btn-primary", testid: "prejoin-join", i18n: "meetings.join", attrs: { type: "submit" } });
  const passcodeInput = h("input", { testid: "prejoin-passcode", attrs: { maxlength: 16, autocomplete: "off", inputmode: "numeric" } });
  const passcodeError = new ErrorBox("prejoin-error");
  const field = (/** @type {string} */ key, /** @type {HTMLElement} */ control) => h("label", { class: "field" }, h("span", { class: "field-label", i18n: key }), control);
  const prejoinForm = h(
    "form",
    { class: "prejoin-form" },
    field("meeting.your_name", nameInput),
    field("meeting.camera", camSelect),
    field("meeting.microphone", micSelect),
    passcodeError.el,
    joinBtn,
  );
  const passcodeField = field("meeting.passcode", passcodeInput);
  passcodeField.hidden = true;
  prejoinForm.insertBefore(passcodeField, passcodeError.el);
  const prejoin = h("section", { class: "card prejoin", testid: "prejoin" }, h("div", { class: "tile prejoin-preview" }, preview), prejoinForm);
  const body = /** @type {HTMLElement} */ (el.querySelector(".meeting-body"));
  body.hidden = true;
  el.insertBefore(prejoin, body);
  el.insertBefore(waitScreen.el, body);

  /**
   * openDevices (re)opens the camera and microphone chosen in the selects.
   */
  async function openDevices() {
    for (const t of local?.getTracks() ?? []) t.stop();
    // 720p, so the camera can be sent in three simulcast layers (720p, 360p, 180p).
    const size = { width: { ideal: 1280 }, height: { ideal: 720 } };
    const video = camSelect.value ? { deviceId: { exact: camSelect.value }, ...size } : size;
    const audio = micSelect.value ? { deviceId: { exact: micSelect.value } } : true;
    try {
      local = await navigator.mediaDevices.getUserMedia({ video, audio });
    } catch {
      local = null;
      notices.show(() => i18n.t("meeting.no_media"), "info");
    }
    preview.srcObject = local;
    selfVideo.srcObject = local;
  }

  async function listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    /**
     * @param {HTMLSelectElement} sel
     * @param {string} kind
     * @param {MediaStreamTrack | undefined} current
     */
    const fill = (sel, kind, current) => {
      const list = devices.filter((d) => d.kind === kind);
      sel.replaceChildren(...list.map((d, i) => h("option", { text: d.label || `${kind} ${i + 1}`, attrs: { value: d.deviceId } })));
      const id = current?.getSettings().deviceId;
      if (id) sel.value = id;
      sel.disabled = list.length === 0;
    };
    fill(camSelect, "videoinput", local?.getVideoTracks()[0]);
    fill(micSelect, "audioinput", local?.getAudioTracks()[0]);
  }

  // Joining waits for the camera and microphone being opened, so that a
  // quick click does not join receive-only.
  /** @type {Promise<void>} */
  let devicesOpen = Promise.resolve();
  camSelect.addEventListener("change", () => {
    devicesOpen = openDevices();
  });
  micSelect.addEventListener("change", () => {
    devicesOpen = openDevices();
  });
  prejoinForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    joinBtn.disabled = true;
    void join(nameInput.value.trim(), passcodeInput.value);
  });

  /**
   * @param {string} name
   * @param {string} passcode
   */
  async function join(name, passcode) {
    try {
      await devicesOpen;
      const res = await conn.join(local, name, passcode);
      if (gone) return;
      prejoin.remove();
      waitScreen.el.remove();
      body.hidden = false;
      isHost = res.host;
      muteAllBtn.hidden = lockBtn.hidden = endBtn.hidden = inviteBtn.hidden = dialOut.button.hidden = !isHost;
      if (isHost && res.waiting_room) lobbyPanel.update(res.waiting_room);
      for (const p of res.participants) tileFor(p);
      for (const m of res.chat ?? []) addChat(m);
      meetingTitle = res.meeting.title;
      dialIn.set(res.dial_in);
      renderHeading();
      state.dataset.i18n = "";
      state.textContent = "";
      renderCount();
    } catch (err) {
      const code = /** @type {{code?: string}} */ (err).code;
      if (isGuest && (code === "denied" || code === "disconnected") && !gone) {
        // Turned away, or the connection dropped while waiting: the guest
        // may ask again.
        prejoin.hidden = true;
        waitScreen.denied(() => (code === "denied" ? i18n.t("guest.denied") : errorText(i18n, err)));
        joinBtn.disabled = false;
        return;
      }
      if ((code === "auth_failed" || code === "locked_out") && !gone) {
        // The meeting has a passcode: ask for it (again).
        const key = code === "locked_out" ? "meeting.passcode_locked" : passcode ? "meeting.passcode_wrong" : "meeting.passcode_needed";
        passcodeField.hidden = false;
        passcodeError.show(() => i18n.t(key));
        passcodeInput.value = "";
        passcodeInput.focus();
        joinBtn.disabled = false;
        return;
      }
      prejoin.remove();
      waitScreen.el.remove();
      body.hidden = false;
      finish(() => (code === "ended" ? i18n.t("meeting.ended") : errorText(i18n, err)), false);
    }
  }

  renderHeading();
  state.dataset.i18n = "";
  devicesOpen = openDevices();
  void devicesOpen.then(listDevices).catch(() => {});

  return {
    el,
    destroy: () => {
      clearInterval(qualityTimer);
      removeAudioHooks();
      dialOut.destroy();
      offState();
      window.removeEventListener("pagehide", onPageHide);
      if (!gone) {
        gone = true;
        void conn.leave();
      }
    },
    relocalize: () => {
      error.relocalize();
      renderCount();
      renderHeading();
      lobbyPanel.relocalize();
      dialIn.relocalize();
      dialOut.relocalize();
    },
  };
}
