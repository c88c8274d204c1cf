// @ts-check
// The Cameras page's state and its pure functions: the shapes the
// building.cameras.* requests and the building.cameras topic carry, how
// events change the cameras the page holds, how a camera's state and
// figures are shown, the editor's checks, and the live grid's saved
// layout. Nothing here touches the DOM or the network, so Node's test
// runner can check it.

/**
 * @typedef {object} Profile one ONVIF media profile of a camera.
 * @property {string} token
 * @property {string} name
 * @property {string} encoding H264, H265, JPEG.
 * @property {number} width
 * @property {number} height
 * @property {number} [fps]
 * @property {number} [bitrate_kbps]
 * @property {string} stream_uri
 * @property {string} [snapshot_uri]
 */

/**
 * @typedef {object} Camera a camera's settings (never its password).
 * @property {string} id
 * @property {string} name
 * @property {string} rtsp_url without credentials.
 * @property {string} [onvif_url]
 * @property {string} [username]
 * @property {boolean} has_password
 * @property {string} transport "tcp", "udp" or "auto".
 * @property {string} [snapshot_url]
 * @property {string} [manufacturer]
 * @property {string} [model]
 * @property {string} [firmware]
 * @property {string} [serial]
 * @property {Profile[]} profiles
 * @property {string} [profile]
 * @property {boolean} enabled
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * @typedef {object} CameraStatus a camera's live state and figures.
 * @property {string} id
 * @property {string} name
 * @property {string} state online, degraded, offline, unknown or disabled.
 * @property {string} [reason] one of CAMERA_REASONS' keys.
 * @property {string} [since] RFC 3339.
 * @property {string} [codec]
 * @property {number} [width]
 * @property {number} [height]
 * @property {number} fps
 * @property {number} bitrate_kbps
 * @property {string} [last_frame] RFC 3339.
 * @property {string} [last_keyframe]
 * @property {boolean} live_view the console can watch it (H.264).
 * @property {number} viewers
 * @property {boolean} streaming
 * @property {number} [sessions]
 */

/**
 * @typedef {object} CameraInput what building.cameras.create and update take.
 * @property {string} id
 * @property {string} name
 * @property {string} rtsp_url
 * @property {string} onvif_url
 * @property {string} username
 * @property {string} [password] absent: keep the old one.
 * @property {string} transport
 * @property {string} profile
 * @property {boolean} enabled
 */

/**
 * @typedef {object} ProbeResult what building.cameras.probe found.
 * @property {string} manufacturer
 * @property {string} model
 * @property {string} firmware
 * @property {string} serial
 * @property {Profile[]} profiles
 * @property {number} clock_offset_ms the camera's clock minus civicd's.
 * @property {boolean} [events]
 */

/**
 * @typedef {object} Found a camera that answered a discovery probe.
 * @property {string} address its ONVIF device address.
 * @property {string[]} xaddrs
 * @property {string} [name]
 * @property {string} [hardware]
 * @property {string} [location]
 * @property {string} [known] the id of the camera already added at this address.
 */

/**
 * @typedef {object} CamerasState everything the page holds.
 * @property {Map<string, Camera>} cameras settings, by id.
 * @property {Map<string, CameraStatus>} status live state, by id.
 * @property {Set<string>} motion cameras that report motion now.
 */

/** The camera states, most urgent first. */
export const CAMERA_STATES = Object.freeze(["offline", "degraded", "unknown", "disabled", "online"]);

/**
 * The reasons civicd gives with a state (building/cameras), and the last
 * part of their dictionary keys ("cam.reason.<part>").
 */
export const CAMERA_REASONS = Object.freeze({
  "auth failed": "auth",
  unreachable: "unreachable",
  "no video": "no_video",
  "stream stalled": "stalled",
  "bad stream": "bad_stream",
  "codec not supported for live view": "codec",
  "low fps": "low_fps",
  "no keyframe": "no_keyframe",
});

/** The transports an RTSP session may use. */
export const TRANSPORTS = Object.freeze(["tcp", "udp", "auto"]);

/** The live grid's layouts: how many tiles. */
export const GRID_LAYOUTS = Object.freeze([1, 4, 9]);

/** How often the list's thumbnails are fetched again while it shows. */
export const THUMB_REFRESH_MS = 10000;

/** How long discovery listens, in milliseconds. */
export const DISCOVERY_MS = 3000;

/** Camera ids as civicd takes them. */
export const CAMERA_ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Where a camera's still picture is served (webui). */
export const SNAPSHOT_PATH = "/api/cameras/{id}/snapshot";

/** @returns {CamerasState} */
export function emptyCameras() {
  return { cameras: new Map(), status: new Map(), motion: new Set() };
}

/**
 * @param {unknown} v
 * @returns {any[]}
 */
function arr(v) {
  return Array.isArray(v) ? v : [];
}

/**
 * applyCamerasList fills the state from a building.cameras.list result
 * or the topic's snapshot: {cameras, status}.
 * @param {CamerasState} s
 * @param {any} d
 */
export function applyCamerasList(s, d) {
  s.cameras.clear();
  for (const c of arr(d?.cameras)) if (c?.id) s.cameras.set(c.id, c);
  s.status.clear();
  for (const st of arr(d?.status)) if (st?.id) s.status.set(st.id, st);
  for (const id of [...s.motion]) if (!s.cameras.has(id)) s.motion.delete(id);
}

/**
 * applyCameraEvent applies one event of the building.cameras topic. It
 * returns the id of the camera that changed ("*" when many may have, ""
 * when nothing did), and reload: true when the page should load the
 * settings again (a camera it does not know, or one renamed elsewhere:
 * the events carry only the live state).
 * @param {CamerasState} s
 * @param {{kind: string, data: any}} ev
 * @returns {{id: string, reload: boolean}}
 */
export function applyCameraEvent(s, ev) {
  const d = ev.data ?? {};
  switch (ev.kind) {
    case "snapshot":
      applyCamerasList(s, d);
      return { id: "*", reload: false };
    case "building.camera_changed": {
      /** @type {CameraStatus | undefined} */
      const st = d.camera;
      if (!st?.id) return { id: "", reload: false };
      s.status.set(st.id, st);
      const c = s.cameras.get(st.id);
      return { id: st.id, reload: !c || c.name !== st.name };
    }
    case "building.camera_removed": {
      const id = d.camera?.id;
      if (!id) return { id: "", reload: false };
      s.cameras.delete(id);
      s.status.delete(id);
      s.motion.delete(id);
      return { id, reload: false };
    }
    case "building.camera_health": {
      let unknown = false;
      for (const st of arr(d.cameras)) {
        if (!st?.id) continue;
        s.status.set(st.id, st);
        if (!s.cameras.has(st.id)) unknown = true;
      }
      return { id: "*", reload: unknown };
    }
    case "building.camera_motion": {
      const id = d.camera?.id;
      if (!id) return { id: "", reload: false };
      if (d.active) s.motion.add(id);
      else s.motion.delete(id);
      return { id, reload: false };
    }
  }
  return { id: "", reload: false };
}

/**
 * cameraState is the state a camera shows: its live state, "disabled"
 * when switched off, "unknown" before civicd has judged it.
 * @param {Camera | undefined} c
 * @param {CameraStatus | undefined} st
 * @returns {string}
 */
export function cameraState(c, st) {
  if (c && !c.enabled) return "disabled";
  const s = st?.state ?? "unknown";
  return CAMERA_STATES.includes(s) ? s : "unknown";
}

/**
 * reasonKey is the dictionary key of a state's reason, or "" for none
 * or one this console does not know (then it is shown as civicd sent it).
 * @param {string | undefined} reason
 * @returns {string}
 */
export function reasonKey(reason) {
  if (!reason) return "";
  const part = /** @type {Record<string, string>} */ (CAMERA_REASONS)[reason];
  return part ? `cam.reason.${part}` : "";
}

/**
 * byCameraName orders cameras as people read them ("Cam 9" before
 * "Cam 10"), then by id.
 * @param {{id: string, name: string}} a
 * @param {{id: string, name: string}} b
 */
export function byCameraName(a, b) {
  return a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id);
}

/**
 * resolutionText is "1920×1080", or "—".
 * @param {number | undefined} w
 * @param {number | undefined} h
 */
export function resolutionText(w, h) {
  return w && h ? `${w}×${h}` : "—";
}

/**
 * fpsText shows a frame rate with one decimal, or "—" when nothing flows.
 * @param {number | undefined} fps
 */
export function fpsText(fps) {
  return fps && fps > 0 ? fps.toFixed(fps >= 100 ? 0 : 1) : "—";
}

/**
 * bitrateText shows a bit rate given in kbit/s: "850 kbit/s",
 * "2.4 Mbit/s", or "—".
 * @param {number | undefined} kbps
 */
export function bitrateText(kbps) {
  if (!kbps || kbps <= 0) return "—";
  if (kbps < 1000) return `${Math.round(kbps)} kbit/s`;
  return `${(kbps / 1000).toFixed(kbps < 10000 ? 1 : 0)} Mbit/s`;
}

/**
 * snapshotURL is where a camera's still picture is fetched; t busts the
 * browser's cache on each refresh.
 * @param {string} id
 * @param {number} [t]
 */
export function snapshotURL(id, t) {
  const u = SNAPSHOT_PATH.replace("{id}", encodeURIComponent(id));
  return t ? `${u}?t=${t}` : u;
}

/**
 * camerasTab is the tab a location hash shows: "live" for #/cameras/live,
 * else the list.
 * @param {string} hash
 * @returns {"list" | "live"}
 */
export function camerasTab(hash) {
  return /^#\/cameras\/live(?:$|[/?])/.test(hash) ? "live" : "list";
}

/**
 * suggestID proposes an id for a new camera from its name: lower-case
 * letters, digits and "-" when the name has any, else "cam-N"; never one
 * in taken.
 * @param {string} name
 * @param {Iterable<string>} taken
 * @returns {string}
 */
export function suggestID(name, taken) {
  const used = new Set(taken);
  const slug = name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);
  const base = slug && /[a-z]/.test(slug) ? slug : "cam";
  if (base !== "cam" && !used.has(base)) return base;
  for (let n = 1; ; n++) {
    const id = `${base}-${n}`;
    if (!used.has(id)) return id;
  }
}

/**
 * @typedef {object} EditorValues the camera editor's fields.
 * @property {"rtsp" | "onvif"} mode how the camera is added.
 * @property {string} id
 * @property {string} name
 * @property {string} rtspURL
 * @property {string} onvifURL
 * @property {string} username
 * @property {string} password "" keeps the old one when editing.
 * @property {string} transport
 * @property {string} profile
 * @property {boolean} enabled
 */

/**
 * cameraInput turns the editor's fields into the camera to send, or
 * names the dictionary key of what is wrong with them. An ONVIF camera
 * that is edited keeps its stream address (civicd probes it again when
 * its address, credentials or profile change); a new one is probed.
 * @param {EditorValues} v
 * @param {Camera | null} old the camera edited, null for a new one.
 * @returns {{input: CameraInput} | {problem: string, field: string}}
 */
export function cameraInput(v, old) {
  const id = v.id.trim();
  const name = v.name.trim();
  if (!CAMERA_ID_RE.test(id)) return { problem: "cam.ed.bad_id", field: "id" };
  if (!name || name.length > 100) return { problem: "cam.ed.bad_name", field: "name" };
  if (!TRANSPORTS.includes(v.transport)) return { problem: "cam.ed.bad_transport", field: "transport" };
  /** @type {CameraInput} */
  const input = { id, name, rtsp_url: "", onvif_url: "", username: v.username.trim(), transport: v.transport, profile: "", enabled: v.enabled };
  if (v.mode === "rtsp") {
    const u = v.rtspURL.trim();
    if (!/^rtsp:\/\/[^/\s]+/i.test(u)) return { problem: "cam.ed.bad_rtsp", field: "rtsp" };
    input.rtsp_url = u;
  } else {
    const u = v.onvifURL.trim();
    if (!/^https?:\/\/[^/\s]+/i.test(u)) return { problem: "cam.ed.bad_onvif", field: "onvif" };
    input.onvif_url = u;
    input.profile = v.profile;
    if (old?.onvif_url && old.rtsp_url) input.rtsp_url = old.rtsp_url;
  }
  if (v.password !== "") input.password = v.password;
  return { input };
}

/**
 * profileLabel describes a profile for the picker: "Main · H264 ·
 * 1920×1080 · 25 fps · 4096 kbit/s".
 * @param {Profile} p
 */
export function profileLabel(p) {
  const parts = [p.name || p.token, p.encoding || "?", resolutionText(p.width, p.height)];
  if (p.fps) parts.push(`${p.fps} fps`);
  if (p.bitrate_kbps) parts.push(bitrateText(p.bitrate_kbps));
  return parts.join(" · ");
}

/**
 * pickProfile chooses the profile the editor starts with: the one in use,
 * else the first H.264 one (the console can watch only H.264), else the
 * first.
 * @param {Profile[]} profiles
 * @param {string} [current]
 * @returns {string} its token, or "".
 */
export function pickProfile(profiles, current = "") {
  if (current && profiles.some((p) => p.token === current)) return current;
  const h264 = profiles.find((p) => /^h\.?264$/i.test(p.encoding));
  return (h264 ?? profiles[0])?.token ?? "";
}

/**
 * clockSkewed reports whether a camera's clock is so far off that ONVIF
 * authentication may fail and its timestamps mislead (more than 5 s).
 * @param {number} offsetMS
 */
export function clockSkewed(offsetMS) {
  return Math.abs(offsetMS) > 5000;
}

/**
 * @typedef {object} GridSetup the live grid as saved between visits.
 * @property {number} layout one of GRID_LAYOUTS.
 * @property {string[]} tiles the camera in each tile, "" for none.
 */

/** The localStorage key of the grid's setup. */
export const GRID_KEY = "civic.cameras.grid";

/**
 * readGrid reads the saved grid setup, or the default (4 tiles, empty).
 * @param {string | null} raw
 * @returns {GridSetup}
 */
export function readGrid(raw) {
  /** @type {GridSetup} */
  const def = { layout: 4, tiles: [] };
  if (!raw) return def;
  try {
    const v = JSON.parse(raw);
    const layout = GRID_LAYOUTS.includes(v?.layout) ? v.layout : 4;
    const tiles = arr(v?.tiles)
      .slice(0, 9)
      .map((t) => (typeof t === "string" && CAMERA_ID_RE.test(t) ? t : ""));
    return { layout, tiles };
  } catch {
    return def;
  }
}

/**
 * fillGrid puts the cameras into the tiles a new grid shows, in order,
 * keeping the tiles already set; it returns the new list.
 * @param {string[]} tiles
 * @param {number} layout
 * @param {string[]} cameras ids in the order to use.
 * @returns {string[]}
 */
export function fillGrid(tiles, layout, cameras) {
  const out = Array.from({ length: layout }, (_, i) => tiles[i] ?? "");
  if (out.some((t) => t)) return out;
  for (let i = 0; i < layout && i < cameras.length; i++) out[i] = cameras[i];
  return out;
}

/**
 * growGrid fills the empty tiles a bigger layout adds (from..to-1) with
 * the cameras no tile shows yet, in order; it returns the new list.
 * @param {string[]} tiles
 * @param {number} from the old layout.
 * @param {number} to the new layout.
 * @param {string[]} cameras ids in the order to use.
 * @returns {string[]}
 */
export function growGrid(tiles, from, to, cameras) {
  const out = Array.from({ length: Math.max(tiles.length, to) }, (_, i) => tiles[i] ?? "");
  const shown = new Set(out.slice(0, to).filter(Boolean));
  const rest = cameras.filter((id) => !shown.has(id));
  for (let i = from; i < to && rest.length > 0; i++) if (!out[i]) out[i] = /** @type {string} */ (rest.shift());
  return out;
}
