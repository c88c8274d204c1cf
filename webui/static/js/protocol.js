// @ts-check
// Console protocol constants. This file mirrors webui/protocol.go, which is
// the single source of truth; a Go test parses this file and fails when the
// two drift apart. Keep one KEY: value pair per line and no other exports.

/** Message types the browser sends. */
export const REQUEST_TYPES = Object.freeze({
  AUTH: "auth",
  PING: "ping",
  SUBSCRIBE: "subscribe",
  UNSUBSCRIBE: "unsubscribe",
  WHOAMI: "whoami",
  SYSTEM_STATUS: "system.status",
  USERS_LIST: "users.list",
  USERS_CREATE: "users.create",
  USERS_UPDATE: "users.update",
  USERS_DELETE: "users.delete",
  USERS_RESET_PASSWORD: "users.reset_password",
  AUDIT_LIST: "audit.list",
  SESSION_LOGOUT: "session.logout",
  ACCOUNT_CHANGE_PASSWORD: "account.change_password",
  CONFERENCE_CREATE: "conference.create",
  CONFERENCE_LIST: "conference.list",
  CONFERENCE_JOIN: "conference.join",
  CONFERENCE_LEAVE: "conference.leave",
  WEBRTC_OFFER: "webrtc.offer",
  WEBRTC_ANSWER: "webrtc.answer",
  WEBRTC_CANDIDATE: "webrtc.candidate",
  CONFERENCE_MUTE: "conference.mute",
  CONFERENCE_MUTE_ALL: "conference.mute_all",
  CONFERENCE_REMOVE: "conference.remove",
  CONFERENCE_LOCK: "conference.lock",
  CONFERENCE_END: "conference.end",
  CONFERENCE_CHAT: "conference.chat",
  CONFERENCE_HAND: "conference.hand",
  CONFERENCE_REJOIN: "conference.rejoin",
  WEBRTC_RESTART: "webrtc.restart",
  CONFERENCE_VIEW: "conference.view",
  CONFERENCE_INVITE: "conference.invite",
  CONFERENCE_LOBBY: "conference.lobby",
  CONFERENCE_ADMIT: "conference.admit",
  CONFERENCE_DENY: "conference.deny",
  VOIP_EXTENSIONS_LIST: "voip.extensions.list",
  VOIP_EXTENSIONS_CREATE: "voip.extensions.create",
  VOIP_EXTENSIONS_UPDATE: "voip.extensions.update",
  VOIP_EXTENSIONS_DELETE: "voip.extensions.delete",
  VOIP_RINGGROUPS_LIST: "voip.ringgroups.list",
  VOIP_RINGGROUPS_CREATE: "voip.ringgroups.create",
  VOIP_RINGGROUPS_UPDATE: "voip.ringgroups.update",
  VOIP_RINGGROUPS_DELETE: "voip.ringgroups.delete",
  VOIP_CALLS_LIST: "voip.calls.list",
  VOIP_CALLS_HANGUP: "voip.calls.hangup",
  VOIP_RECORDS_LIST: "voip.records.list",
});

/** Message types the server sends. */
export const SERVER_TYPES = Object.freeze({
  AUTH_REQUIRED: "auth_required",
  AUTH_OK: "auth_ok",
  AUTH_INVALID: "auth_invalid",
  RESULT: "result",
  EVENT: "event",
  PONG: "pong",
});

/** Error codes of failed results and of the HTTP API. */
export const ERROR_CODES = Object.freeze({
  INVALID_FORMAT: "invalid_format",
  MISSING_ID: "missing_id",
  ID_REUSE: "id_reuse",
  UNKNOWN_TYPE: "unknown_type",
  INVALID_PARAMS: "invalid_params",
  NOT_ALLOWED: "not_allowed",
  NOT_FOUND: "not_found",
  CONFLICT: "conflict",
  RATE_LIMITED: "rate_limited",
  AUTH_FAILED: "auth_failed",
  LOCKED_OUT: "locked_out",
  TOO_LARGE: "too_large",
  UNAVAILABLE: "unavailable",
  INTERNAL_ERROR: "internal_error",
});

/** Subscription topics. */
export const TOPICS = Object.freeze({
  SYSTEM: "system",
  USERS: "users",
  AUDIT: "audit",
  MEETINGS: "meetings",
  PHONES: "voip.phones",
  CALLS: "voip.calls",
  DTMF: "voip.dtmf",
});

/** Websocket close codes the server uses. */
export const CLOSE_CODES = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
});
