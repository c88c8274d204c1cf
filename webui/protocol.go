package webui

import (
	"encoding/json"

	"github.com/pion/webrtc/v4"

	"civic/building"
	"civic/conference"
	"civic/internal/audit"
	"civic/internal/auth"
	"civic/voip"
	"civic/voip/confbridge"
)

// This file is the single source of truth for the console websocket
// protocol: every message type, its payload, the roles that may send it,
// every subscription topic and every error and close code. The payloads
// of the building's requests are in building_protocol.go. The JS constants
// in static/js/protocol.js and docs/console-protocol.md are checked against
// it by TestProtocolTablesAgree.

// Message types the server sends.
const (
	TypeAuthRequired = "auth_required"
	TypeAuthOK       = "auth_ok"
	TypeAuthInvalid  = "auth_invalid"
	TypeResult       = "result"
	TypeEvent        = "event"
	TypePong         = "pong"
)

// Message types the client sends. TypeAuth is only valid as the first
// message; every other type is a request that carries an id.
const (
	TypeAuth                  = "auth"
	TypePing                  = "ping"
	TypeSubscribe             = "subscribe"
	TypeUnsubscribe           = "unsubscribe"
	TypeWhoami                = "whoami"
	TypeSystemStatus          = "system.status"
	TypeUsersList             = "users.list"
	TypeUsersCreate           = "users.create"
	TypeUsersUpdate           = "users.update"
	TypeUsersDelete           = "users.delete"
	TypeUsersResetPassword    = "users.reset_password"
	TypeAuditList             = "audit.list"
	TypeSessionLogout         = "session.logout"
	TypeAccountChangePassword = "account.change_password"
	TypeConferenceCreate      = "conference.create"
	TypeConferenceList        = "conference.list"
	TypeConferenceJoin        = "conference.join"
	TypeConferenceLeave       = "conference.leave"
	TypeWebRTCOffer           = "webrtc.offer"
	TypeWebRTCAnswer          = "webrtc.answer"
	TypeWebRTCCandidate       = "webrtc.candidate"
	TypeConferenceMute        = "conference.mute"
	TypeConferenceMuteAll     = "conference.mute_all"
	TypeConferenceRemove      = "conference.remove"
	TypeConferenceLock        = "conference.lock"
	TypeConferenceEnd         = "conference.end"
	TypeConferenceChat        = "conference.chat"
	TypeConferenceHand        = "conference.hand"
	TypeConferenceRejoin      = "conference.rejoin"
	TypeWebRTCRestart         = "webrtc.restart"
	TypeConferenceView        = "conference.view"
	TypeConferenceInvite      = "conference.invite"
	TypeConferenceLobby       = "conference.lobby"
	TypeConferenceAdmit       = "conference.admit"
	TypeConferenceDeny        = "conference.deny"
	TypeExtensionsList        = "voip.extensions.list"
	TypeExtensionsCreate      = "voip.extensions.create"
	TypeExtensionsUpdate      = "voip.extensions.update"
	TypeExtensionsDelete      = "voip.extensions.delete"
	TypeRingGroupsList        = "voip.ringgroups.list"
	TypeRingGroupsCreate      = "voip.ringgroups.create"
	TypeRingGroupsUpdate      = "voip.ringgroups.update"
	TypeRingGroupsDelete      = "voip.ringgroups.delete"
	TypeCallsList             = "voip.calls.list"
	TypeCallsHangup           = "voip.calls.hangup"
	TypeRecordsList           = "voip.records.list"

	// The building: the live page, door commands, alarms and access
	// events (building.go), and the admin's editors (building_editors.go).
	TypeBuildingOverview   = "building.overview"
	TypeDoorsUnlock        = "building.doors.unlock"
	TypeDoorsUnlockUntil   = "building.doors.unlock_until"
	TypeDoorsLock          = "building.doors.lock"
	TypeLockdownStart      = "building.lockdown.start"
	TypeLockdownRelease    = "building.lockdown.release"
	TypeAlarmsList         = "building.alarms.list"
	TypeAlarmsAck          = "building.alarms.ack"
	TypeAlarmsResolve      = "building.alarms.resolve"
	TypeAlarmsHistory      = "building.alarms.history"
	TypeAccessList         = "building.access.list"
	TypeSitesList          = "building.sites.list"
	TypeSitesCreate        = "building.sites.create"
	TypeSitesUpdate        = "building.sites.update"
	TypeSitesDelete        = "building.sites.delete"
	TypeBuildingsList      = "building.buildings.list"
	TypeBuildingsCreate    = "building.buildings.create"
	TypeBuildingsUpdate    = "building.buildings.update"
	TypeBuildingsDelete    = "building.buildings.delete"
	TypeFloorsList         = "building.floors.list"
	TypeFloorsCreate       = "building.floors.create"
	TypeFloorsUpdate       = "building.floors.update"
	TypeFloorsDelete       = "building.floors.delete"
	TypeControllersList    = "building.controllers.list"
	TypeControllersCreate  = "building.controllers.create"
	TypeControllersUpdate  = "building.controllers.update"
	TypeControllersDelete  = "building.controllers.delete"
	TypeDoorsList          = "building.doors.list"
	TypeDoorsCreate        = "building.doors.create"
	TypeDoorsUpdate        = "building.doors.update"
	TypeDoorsDelete        = "building.doors.delete"
	TypeCardholdersList    = "building.cardholders.list"
	TypeCardholdersCreate  = "building.cardholders.create"
	TypeCardholdersImport  = "building.cardholders.import"
	TypeCardholdersUpdate  = "building.cardholders.update"
	TypeCardholdersDelete  = "building.cardholders.delete"
	TypeAccessLevelsList   = "building.access_levels.list"
	TypeAccessLevelsCreate = "building.access_levels.create"
	TypeAccessLevelsUpdate = "building.access_levels.update"
	TypeAccessLevelsDelete = "building.access_levels.delete"
	TypeSchedulesList      = "building.schedules.list"
	TypeSchedulesCreate    = "building.schedules.create"
	TypeSchedulesUpdate    = "building.schedules.update"
	TypeSchedulesDelete    = "building.schedules.delete"
	TypeHolidaysList       = "building.holidays.list"
	TypeHolidaysSet        = "building.holidays.set"
	TypeHolidaysDelete     = "building.holidays.delete"
	TypePlacementsList     = "building.placements.list"
	TypePlacementsSet      = "building.placements.set"
	TypePlacementsDelete   = "building.placements.delete"
)

// TopicConference is the topic of the events sent on a conference.join
// request's id: subscribe-side offers and changes in the room. It is not
// subscribable; joining opens it.
const TopicConference = "conference"

// Error codes. This list is fixed and documented; clients may switch on it.
const (
	CodeInvalidFormat = "invalid_format" // not a JSON object, or a field has the wrong type
	CodeMissingID     = "missing_id"     // a request without a positive integer id
	CodeIDReuse       = "id_reuse"       // an id not greater than every earlier id on this connection
	CodeUnknownType   = "unknown_type"   // a type this server does not know
	CodeInvalidParams = "invalid_params" // the payload failed validation; message says which field
	CodeNotAllowed    = "not_allowed"    // the caller's role may not do this
	CodeNotFound      = "not_found"      // the target does not exist
	CodeConflict      = "conflict"       // the change conflicts with current state (name taken, last admin)
	CodeRateLimited   = "rate_limited"   // too many messages; slow down
	CodeAuthFailed    = "auth_failed"    // wrong username/password or current password (HTTP login too)
	CodeLockedOut     = "locked_out"     // too many failed logins; try again later (HTTP login)
	CodeTooLarge      = "too_large"      // request body too large (HTTP login)
	CodeUnavailable   = "unavailable"    // the module behind the command is not running
	CodeInternal      = "internal_error" // a server fault; details are in the server log
)

// ErrorCodes lists every error code, in documentation order.
var ErrorCodes = []string{
	CodeInvalidFormat, CodeMissingID, CodeIDReuse, CodeUnknownType, CodeInvalidParams,
	CodeNotAllowed, CodeNotFound, CodeConflict, CodeRateLimited, CodeAuthFailed,
	CodeLockedOut, CodeTooLarge, CodeUnavailable, CodeInternal,
}

// Websocket close codes the server uses.
const (
	CloseNormal    = 1000 // logout, or the client said goodbye
	CloseGoingAway = 1001 // the server is shutting down; reconnect with backoff
	ClosePolicy    = 1008 // auth failed or timed out, Origin refused, flood, or the session ended
	CloseTooBig    = 1009 // a frame larger than ws.max_message_bytes
)

// CloseCodes lists every close code, in documentation order.
var CloseCodes = []int{CloseNormal, CloseGoingAway, ClosePolicy, CloseTooBig}

// Subscription topics.
const (
	TopicSystem = "system" // module status; snapshot SystemStatus, event "system.status"
	TopicUsers  = "users"  // snapshot UsersSnapshot, events "user.created", "user.updated", "user.deleted" (UserEvent)
	TopicAudit  = "audit"  // snapshot AuditSnapshot (newest 50), event "audit.appended" (AuditEvent)
	// TopicMeetings: snapshot MeetingsResult, events conference.meeting_created,
	// conference.participant_joined, conference.participant_left, conference.meeting_ended
	// ({meeting, participant}).
	TopicMeetings = "meetings"
	// TopicPhones: snapshot PhonesSnapshot, events voip.phone_online,
	// voip.phone_offline, voip.phone_changed, voip.phone_removed ({phone}).
	TopicPhones = "voip.phones"
	// TopicCalls: snapshot CallsResult (the live calls), events
	// voip.call_changed and voip.call_ended ({call, record}).
	TopicCalls = "voip.calls"
	// TopicDTMF: no snapshot; event voip.dtmf ({call_id, extension, digit}).
	TopicDTMF = "voip.dtmf"
	// The building's topics (building.go); their events are building's
	// own bus events. The Topics table says what each carries.
	TopicBuildingDoors       = "building.doors"
	TopicBuildingAlarms      = "building.alarms"
	TopicBuildingAccess      = "building.access"
	TopicBuildingControllers = "building.controllers"
)

var (
	allRoles  = []auth.Role{auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities}
	adminOnly = []auth.Role{auth.RoleAdmin}
	meeters   = []auth.Role{auth.RoleAdmin, auth.RoleOfficial}
	// everyone is every console role plus guests (invite links).
	everyone = []auth.Role{auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities, auth.RoleGuest}
	// attendees may be in a meeting: guests only in the one room of
	// their invite, which the handlers check.
	attendees = []auth.Role{auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest}
	// callers may be in a room's media: attendees, and facilities staff,
	// who take desk-phone calls in the console (a browser call is a
	// private room) but join no meetings, which the handlers check.
	callers = []auth.Role{auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities}
	// callWatchers may see the live calls: admins, and facilities staff,
	// whose desk takes the door stations' calls. Officials see the phone
	// directory but not who is on the phone with whom.
	callWatchers = []auth.Role{auth.RoleAdmin, auth.RoleFacilities}
	// doorKeepers run the building: admins, and facilities staff, who
	// watch doors, alarms and access, give door commands and read (but do
	// not edit) the building's settings. Officials see nothing of it.
	doorKeepers = []auth.Role{auth.RoleAdmin, auth.RoleFacilities}
)

// TopicSpec describes one subscription topic.
type TopicSpec struct {
	Topic string
	Roles []auth.Role
	Doc   string
}

// Topics is the table of subscription topics and the roles that may subscribe.
var Topics = append([]TopicSpec{
	{TopicSystem, allRoles, "Module status: a SystemStatus snapshot, then `system.status` events."},
	{TopicUsers, adminOnly, "Console users: a `{users}` snapshot, then `user.created`/`user.updated`/`user.deleted` with `{user}`."},
	{TopicAudit, adminOnly, "The audit log: a snapshot of the newest 50 entries, then `audit.appended` with `{entry}`."},
	{TopicMeetings, meeters, "Meetings not ended: a `{meetings}` snapshot, then `conference.meeting_created`, `conference.participant_joined`, `conference.participant_left`, `conference.participant_muted`, `conference.speaker_changed`, `conference.meeting_updated` (the lobby setting) and `conference.meeting_ended` with `{meeting, participant}`, `conference.phone_key` with `{room, participant, digit}` for each key a desk phone presses in a meeting (`*9` raises its hand, `*6` mutes it), and every 2 s for each live meeting `conference.stats` with `{room, participants: [{id, name, in_kbps, out_kbps, loss_pct, rtt_ms}]}`."},
	{TopicPhones, allRoles, "Desk phones: a `{phones}` snapshot of every extension with its registration state, then `voip.phone_online`, `voip.phone_offline`, `voip.phone_changed` and `voip.phone_removed` with `{phone}`."},
	{TopicCalls, callWatchers, "Live calls: a `{calls}` snapshot, oldest first, then `voip.call_changed` with `{call}` and `voip.call_ended` with `{call, record}`."},
	// DTMF digits can be a meeting's PIN being keyed in, so only admins
	// see them.
	{TopicDTMF, adminOnly, "Keys pressed in calls: no snapshot, only `voip.dtmf` events with `{call_id, extension, digit}`."},
	{TopicBuildingDoors, doorKeepers, "Doors: a `{doors, lockdowns}` snapshot of every door's live state and the lockdowns in force, then `building.door_changed` and `building.door_removed` with `{door}`, and `building.lockdown_started` and `building.lockdown_released` with `{lockdown}`."},
	{TopicBuildingAlarms, doorKeepers, "Open alarms: an `{alarms}` snapshot, oldest first, then `building.alarm_raised`, `building.alarm_repeated`, `building.alarm_acknowledged` and `building.alarm_resolved` with `{alarm}`."},
	{TopicBuildingAccess, doorKeepers, "Access decisions: no snapshot, only `building.access` events whose data is the access event."},
	{TopicBuildingControllers, doorKeepers, "Door controllers: a `{controllers}` snapshot of their live state, then `building.controller_online`, `building.controller_offline`, `building.controller_changed` and `building.controller_removed` with `{controller}`."},
}, cameraTopics()...)

// MessageSpec describes one request type: who may send it, its params and
// its result. Params and Result are zero values used for documentation and
// decoding; Params nil means the request has no payload beyond id and type.
type MessageSpec struct {
	Type   string
	Roles  []auth.Role
	Params any
	Result any
	// Changes is true for requests that change state and that the console
	// audits under their type. The requests in AuditedByModule change
	// state too, but their module audits them, so Changes is false there.
	Changes bool
	Doc     string
}

// Messages is the table of every request a client may send after auth.
var Messages = append([]MessageSpec{
	{TypePing, everyone, nil, nil, false, "Keepalive. Answered with `{id, type:\"pong\"}` instead of a result."},
	{TypeSubscribe, allRoles, SubscribeParams{}, SubscribeResult{}, false, "Subscribe to topics. The result comes first, then a snapshot event per topic, then change events, all with this request's id."},
	{TypeUnsubscribe, allRoles, UnsubscribeParams{}, struct{}{}, false, "End the subscription opened by request `subscription`."},
	{TypeWhoami, everyone, nil, WhoamiResult{}, false, "The signed-in user and role."},
	{TypeSystemStatus, allRoles, nil, SystemStatus{}, false, "Version, uptime and the state of each module."},
	{TypeUsersList, adminOnly, nil, UsersSnapshot{}, false, "All console users."},
	{TypeUsersCreate, adminOnly, UsersCreateParams{}, UserResult{}, true, "Create a console user."},
	{TypeUsersUpdate, adminOnly, UsersUpdateParams{}, UserResult{}, true, "Change a user's display name, role, language or disabled flag. Omitted fields are unchanged. Disabling ends the user's sessions."},
	{TypeUsersDelete, adminOnly, UserIDParams{}, struct{}{}, true, "Delete a user and end their sessions. The last enabled admin cannot be deleted."},
	{TypeUsersResetPassword, adminOnly, ResetPasswordParams{}, ResetPasswordResult{}, true, "Set a user's password and end their sessions. Without `password` a random one is generated and returned once."},
	{TypeAuditList, adminOnly, AuditListParams{}, AuditListResult{}, false, "Audit entries, newest first, filtered and paged by `before_id`."},
	{TypeSessionLogout, everyone, nil, struct{}{}, true, "End this session. The server sends the result, then closes with 1000."},
	{TypeAccountChangePassword, allRoles, ChangePasswordParams{}, struct{}{}, true, "Change your own password. Your other sessions end."},
	{TypeConferenceCreate, meeters, ConferenceCreateParams{}, MeetingResult{}, true, "Create a meeting, now or scheduled, with optional co-hosts; you are its host. It gets a 6-digit room number."},
	{TypeConferenceList, meeters, ConferenceListParams{}, MeetingsResult{}, false, "Meetings that have not ended, newest first, with their live participant counts; with `mine`, only those you host or co-host, live first, then scheduled by time."},
	{TypeConferenceJoin, callers, ConferenceJoinParams{}, ConferenceJoinResult{}, true, "Join a meeting. After the result, `conference` events follow on this request's id. A guest held in the lobby gets `{lobby:true}` and waits for `lobby.admitted`. Facilities staff join only the rooms of their own browser calls (`softphone.call`, `softphone.answer`)."},
	{TypeConferenceLeave, callers, nil, struct{}{}, true, "Leave the meeting (or the lobby) this connection is in."},
	{TypeWebRTCOffer, callers, SDPParams{}, SDPParams{}, false, "The client's offer for its publish connection; the result is civicd's answer."},
	{TypeWebRTCAnswer, callers, SDPParams{}, struct{}{}, false, "The client's answer to civicd's last subscribe-side offer."},
	{TypeWebRTCCandidate, callers, CandidateParams{}, struct{}{}, false, "A trickled ICE candidate for the `publish` or `subscribe` connection."},
	{TypeConferenceMute, meeters, MuteParams{}, struct{}{}, true, "Host: mute or unmute a participant. civicd stops forwarding their audio and tells everyone."},
	{TypeConferenceMuteAll, meeters, nil, struct{}{}, true, "Host: mute everyone else."},
	{TypeConferenceRemove, meeters, ParticipantParams{}, struct{}{}, true, "Host: remove a participant. They get `removed`, then are disconnected."},
	{TypeConferenceLock, meeters, LockParams{}, struct{}{}, true, "Host: lock or unlock the meeting. While locked only hosts can join."},
	{TypeConferenceEnd, meeters, RoomParams{}, struct{}{}, true, "The meeting's host, or an admin: end the meeting for everyone."},
	{TypeConferenceChat, attendees, ChatParams{}, struct{}{}, false, "Send a chat message to the meeting (kept for late joiners)."},
	{TypeConferenceHand, attendees, HandParams{}, struct{}{}, false, "Raise or lower your hand."},
	{TypeConferenceRejoin, callers, ParticipantParams{}, ConferenceJoinResult{}, true, "After a dropped connection: take back your participant within 30 s, with its tracks. Like join, events follow on this id."},
	{TypeConferenceView, callers, ViewParams{}, struct{}{}, false, "The sizes, in device pixels, at which the client shows forwarded streams (0 for hidden), and optionally the most it wants to receive in bits/s (0: no cap). civicd sends each stream in the simulcast layer that fits the size and the bandwidth."},
	{TypeWebRTCRestart, callers, nil, struct{}{}, false, "Ask for an ICE restart of the subscribe connection (after a network change); a new `webrtc.offer` follows."},
	{TypeConferenceInvite, meeters, InviteParams{}, InviteResult{}, true, "The meeting's hosts, or an admin: make a guest invite link that expires."},
	{TypeConferenceLobby, meeters, LobbyParams{}, struct{}{}, true, "Host: turn the meeting's lobby on or off. Off lets everyone waiting in."},
	{TypeConferenceAdmit, meeters, GuestParams{}, struct{}{}, true, "Host: let a guest waiting in the lobby in."},
	{TypeConferenceDeny, meeters, GuestParams{}, struct{}{}, true, "Host: turn a guest waiting in the lobby away."},
	{TypeConferenceDialOut, meeters, DialOutParams{}, DialOutResult{}, true, "Host: call a desk phone (an extension or ring group) into the meeting; it joins when answered, with no PIN. The result comes at once; `dial_out.state` events with `{number, state}` follow on this request's id: `ringing`, then `answered`, `busy`, `declined`, `no_answer`, `unavailable`, `unknown_number` or `failed`."},
	{TypeSoftphoneRegister, allRoles, nil, SoftphoneRegisterResult{}, false, "Make this console a softphone: calls to the extensions linked to you ring here (beside your desk phones) until the socket closes. The result lists those extensions; then `softphone.ringing` events with `{id, from, from_name, to}` and `softphone.ring_ended` with `{id, reason}` (`answered`, `answered_elsewhere`, `cancelled`, `declined`, `timeout`) follow on this request's id."},
	{TypeSoftphoneCall, allRoles, SoftphoneCallParams{}, confbridge.WebCall{}, true, "Call a desk phone (an extension or ring group) from the browser, as your linked extension. The result names the call's private room: join it with `conference.join`, publishing the microphone. `softphone.state` events with `{call_id, state, reason}` follow on this request's id: `ringing`, `answered`, then `ended`, or `busy`, `declined`, `no_answer`, `unavailable`, `unknown_number` or `failed`."},
	{TypeSoftphoneAnswer, allRoles, RingIDParams{}, confbridge.WebCall{}, true, "Answer in the browser a call ringing here (`ring_id`: the id of its `softphone.ringing` event). The result names the call's room, to join as for `softphone.call`; `softphone.state` events follow on this request's id (`answered`, then `ended`)."},
	{TypeSoftphoneDecline, allRoles, RingIDParams{}, struct{}{}, true, "Decline a call ringing here: the caller hears it declined unless a desk phone of the extension answers it."},
	{TypeSoftphoneHangup, allRoles, SoftphoneHangupParams{}, struct{}{}, true, "Hang up a call made or answered in the browser: the phone gets a BYE and the call's room ends."},
	{TypeSoftphoneDTMF, allRoles, SoftphoneDTMFParams{}, struct{}{}, false, "Send keys (`digits`: 1-16 of 0-9 * # A-D) to the phone of an answered browser call, as RFC 4733 events of 100 ms each: a door station opens its door this way. Not audited (keys can be a PIN); what they do is audited where it happens."},
	{TypeExtensionsList, allRoles, nil, ExtensionsResult{}, false, "The phone directory: every extension, by number. It carries no secrets."},
	{TypeExtensionsCreate, adminOnly, voip.ExtensionInput{}, ExtensionResult{}, true, "Create an extension with its SIP password (8-64 characters)."},
	{TypeExtensionsUpdate, adminOnly, voip.ExtensionInput{}, ExtensionResult{}, true, "Replace the settings of the extension `number`. An empty password keeps the old one."},
	{TypeExtensionsDelete, adminOnly, NumberParams{}, struct{}{}, true, "Delete an extension; its phones are unregistered."},
	{TypeRingGroupsList, allRoles, nil, RingGroupsResult{}, false, "Every ring group, by number."},
	{TypeRingGroupsCreate, adminOnly, voip.RingGroup{}, RingGroupResult{}, true, "Create a ring group: a number that rings its member extensions all at once or in order."},
	{TypeRingGroupsUpdate, adminOnly, voip.RingGroup{}, RingGroupResult{}, true, "Replace the settings of the ring group `number`."},
	{TypeRingGroupsDelete, adminOnly, NumberParams{}, struct{}{}, true, "Delete a ring group."},
	{TypeCallsList, callWatchers, nil, CallsResult{}, false, "The live calls, oldest first: who calls whom, who rings or answers, the state and the codec."},
	{TypeCallsHangup, adminOnly, CallIDParams{}, struct{}{}, true, "End a live call at once, whatever its state: civicd hangs up both phones. Audited with the call's caller and callee."},
	{TypeRecordsList, adminOnly, RecordsListParams{}, RecordsResult{}, false, "Call records, newest first, filtered by extension, result and start time. The same filters export CSV at " + RecordsCSVPath + "."},
	{TypeBuildingOverview, doorKeepers, nil, BuildingOverview{}, false, "Everything the building page shows at load: places, every door's live state, lockdowns, controllers, open alarms and placements on the floor plans."},
	{TypeDoorsUnlock, doorKeepers, DoorUnlockParams{}, CommandResult{}, false, "Unlock a door for `seconds` (default: its unlock time; at most 300). Audited by building."},
	{TypeDoorsUnlockUntil, doorKeepers, DoorUnlockUntilParams{}, CommandResult{}, false, "Unlock a door until a time (at most 24 hours ahead); civicd locks it then. Audited by building."},
	{TypeDoorsLock, doorKeepers, DoorCommandParams{}, CommandResult{}, false, "Lock a door now, ending any unlock in force. Audited by building."},
	{TypeLockdownStart, doorKeepers, LockdownStartParams{}, LockdownResult{}, false, "Lock down a building or floor, with a reason: its doors lock and only responders' cards work. Audited by building."},
	{TypeLockdownRelease, doorKeepers, ScopeParams{}, struct{}{}, false, "End the lockdown of a building or floor. Audited by building."},
	{TypeAlarmsList, doorKeepers, AlarmsListParams{}, AlarmsResult{}, false, "Alarms, newest first, filtered by state, kind, door and time, paged by `before_id`."},
	{TypeAlarmsAck, doorKeepers, AlarmCommentParams{}, AlarmResult{}, false, "Acknowledge a new alarm, with a comment. Audited by building."},
	{TypeAlarmsResolve, doorKeepers, AlarmCommentParams{}, AlarmResult{}, false, "Resolve an open alarm, with a comment. Audited by building."},
	{TypeAlarmsHistory, doorKeepers, AlarmIDParams{}, AlarmHistoryResult{}, false, "Every change of an alarm, oldest first."},
	{TypeAccessList, doorKeepers, AccessListParams{}, AccessResult{}, false, "Access events, newest first, filtered by cardholder, card, door, outcome and time, paged by `before_id`. The same filters export CSV at " + AccessCSVPath + "."},
	{TypeSitesList, doorKeepers, nil, SitesResult{}, false, "Every site, by id."},
	{TypeSitesCreate, adminOnly, SiteBody{}, SiteBody{}, true, "Create a site."},
	{TypeSitesUpdate, adminOnly, SiteBody{}, SiteBody{}, true, "Replace the settings of the site `site.id`."},
	{TypeSitesDelete, adminOnly, SiteIDParams{}, struct{}{}, true, "Delete a site that has no buildings."},
	{TypeBuildingsList, doorKeepers, nil, BuildingsResult{}, false, "Every building, by id."},
	{TypeBuildingsCreate, adminOnly, BuildingBody{}, BuildingBody{}, true, "Create a building of a site."},
	{TypeBuildingsUpdate, adminOnly, BuildingBody{}, BuildingBody{}, true, "Replace the settings of the building `building.id`."},
	{TypeBuildingsDelete, adminOnly, BuildingIDParams{}, struct{}{}, true, "Delete a building that has no floors."},
	{TypeFloorsList, doorKeepers, nil, FloorsResult{}, false, "Every floor, by building and level."},
	{TypeFloorsCreate, adminOnly, FloorBody{}, FloorBody{}, true, "Create a floor of a building. Its plan is uploaded over HTTP."},
	{TypeFloorsUpdate, adminOnly, FloorBody{}, FloorBody{}, true, "Replace the settings of the floor `floor.id`; its plan and placements stay."},
	{TypeFloorsDelete, adminOnly, FloorIDParams{}, struct{}{}, true, "Delete a floor that has no doors, with its plan and placements."},
	{TypeControllersList, doorKeepers, nil, ControllersResult{}, false, "Every door controller's settings, by id. No passwords."},
	{TypeControllersCreate, adminOnly, ControllerParams{}, ControllerResult{}, true, "Create a door controller with its MQTT password (12-72 bytes)."},
	{TypeControllersUpdate, adminOnly, ControllerParams{}, ControllerResult{}, true, "Replace the settings of the controller `controller.id`. An empty password keeps the old one."},
	{TypeControllersDelete, adminOnly, ControllerIDParams{}, struct{}{}, true, "Delete a controller that serves no door."},
	{TypeDoorsList, doorKeepers, nil, DoorsResult{}, false, "Every door's settings, by id."},
	{TypeDoorsCreate, adminOnly, DoorBody{}, DoorBody{}, true, "Create a door."},
	{TypeDoorsUpdate, adminOnly, DoorBody{}, DoorBody{}, true, "Replace the settings of the door `door.id`."},
	{TypeDoorsDelete, adminOnly, DoorIDParams{}, struct{}{}, true, "Delete a door; its access events and alarms stay."},
	{TypeCardholdersList, doorKeepers, nil, CardholdersResult{}, false, "Every cardholder, by id. No PINs."},
	{TypeCardholdersCreate, adminOnly, CardholderParams{}, CardholderResult{}, true, "Create a cardholder with cards, an optional PIN and access levels."},
	{TypeCardholdersImport, adminOnly, CardholdersImportParams{}, CardholdersImportResult{}, true, "Create or update many cardholders at once (at most 10,000), all or none."},
	{TypeCardholdersUpdate, adminOnly, CardholderParams{}, CardholderResult{}, true, "Replace the details of the cardholder `cardholder.id`. An empty PIN keeps the old one; `clear_pin` removes it."},
	{TypeCardholdersDelete, adminOnly, CardholderIDParams{}, struct{}{}, true, "Delete a cardholder and their cards; their access events stay."},
	{TypeAccessLevelsList, doorKeepers, nil, AccessLevelsResult{}, false, "Every access level, by id."},
	{TypeAccessLevelsCreate, adminOnly, AccessLevelBody{}, AccessLevelBody{}, true, "Create an access level: doors, each with a schedule."},
	{TypeAccessLevelsUpdate, adminOnly, AccessLevelBody{}, AccessLevelBody{}, true, "Replace the name and doors of the access level `access_level.id`."},
	{TypeAccessLevelsDelete, adminOnly, AccessLevelIDParams{}, struct{}{}, true, "Delete an access level; its cardholders lose it."},
	{TypeSchedulesList, doorKeepers, nil, SchedulesResult{}, false, "Every schedule, by id."},
	{TypeSchedulesCreate, adminOnly, ScheduleBody{}, ScheduleBody{}, true, "Create a schedule of weekly and holiday windows."},
	{TypeSchedulesUpdate, adminOnly, ScheduleBody{}, ScheduleBody{}, true, "Replace the name and windows of the schedule `schedule.id`."},
	{TypeSchedulesDelete, adminOnly, ScheduleIDParams{}, struct{}{}, true, "Delete a schedule no door or access level uses."},
	{TypeHolidaysList, doorKeepers, nil, HolidaysResult{}, false, "Every holiday, by date."},
	{TypeHolidaysSet, adminOnly, building.Holiday{}, HolidayResult{}, true, "Make a date a holiday, or rename it."},
	{TypeHolidaysDelete, adminOnly, HolidayDateParams{}, struct{}{}, true, "Make a date an ordinary day again."},
	{TypePlacementsList, doorKeepers, PlacementsListParams{}, PlacementsResult{}, false, "The devices placed on a floor's plan."},
	{TypePlacementsSet, adminOnly, building.Placement{}, PlacementResult{}, true, "Place a device on a floor's plan, or move it."},
	{TypePlacementsDelete, adminOnly, PlacementKeyParams{}, struct{}{}, true, "Take a device off its floor's plan."},
}, cameraMessages()...)

// Envelope is every client message: the type, the request id and the
// type's own fields side by side (Home Assistant style).
type Envelope struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
	// Token is only read from the auth message.
	Token string `json:"token,omitempty"`
}

// AuthOK is sent when authentication succeeds.
type AuthOK struct {
	Type    string    `json:"type"`
	User    auth.User `json:"user"`
	Role    auth.Role `json:"role"`
	Version string    `json:"version"`
}

// AuthInvalid is sent when authentication fails, just before the close.
type AuthInvalid struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Result answers exactly one request.
type Result struct {
	ID      int64      `json:"id,omitempty"`
	Type    string     `json:"type"`
	Success bool       `json:"success"`
	Result  any        `json:"result,omitempty"`
	Error   *WireError `json:"error,omitempty"`
}

// WireError is the error object of a failed result and of HTTP API errors.
type WireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// EventMsg carries one event of a subscription.
type EventMsg struct {
	ID    int64       `json:"id"`
	Type  string      `json:"type"`
	Event EventDetail `json:"event"`
}

// EventDetail is the body of an event. Kind "snapshot" carries the full
// current state of the topic; other kinds carry the new state of one item.
type EventDetail struct {
	Topic string          `json:"topic"`
	Kind  string          `json:"kind"`
	Seq   uint64          `json:"seq,omitempty"`
	At    string          `json:"at"`
	Data  json.RawMessage `json:"data"`
}

// SubscribeParams are the params of subscribe.
type SubscribeParams struct {
	Topics []string `json:"topics"`
}

// SubscribeResult is the result of subscribe.
type SubscribeResult struct {
	Topics []string `json:"topics"`
}

// UnsubscribeParams are the params of unsubscribe.
type UnsubscribeParams struct {
	Subscription int64 `json:"subscription"`
}

// WhoamiResult is the result of whoami.
type WhoamiResult struct {
	User      auth.User `json:"user"`
	Role      auth.Role `json:"role"`
	ExpiresAt string    `json:"expires_at"`
	// Room is, for a guest, the meeting of their invite.
	Room string `json:"room,omitempty"`
}

// ModuleStatus is the state of one module of the daemon.
type ModuleStatus struct {
	Name   string `json:"name"`
	State  string `json:"state"` // running, starting, stopped, failed, disabled
	Detail string `json:"detail,omitempty"`
}

// SystemStatus is the result of system.status and the system snapshot.
type SystemStatus struct {
	Version   string         `json:"version"`
	GoVersion string         `json:"go_version"`
	StartedAt string         `json:"started_at"`
	UptimeS   int64          `json:"uptime_s"`
	Modules   []ModuleStatus `json:"modules"`
}

// UsersSnapshot is the result of users.list and the users snapshot.
type UsersSnapshot struct {
	Users []auth.User `json:"users"`
}

// UserResult carries one user.
type UserResult struct {
	User auth.User `json:"user"`
}

// UsersCreateParams are the params of users.create.
type UsersCreateParams struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Password    string `json:"password"`
	Language    string `json:"language"`
}

// UsersUpdateParams are the params of users.update.
type UsersUpdateParams struct {
	UserID      int64   `json:"user_id"`
	DisplayName *string `json:"display_name"`
	Role        *string `json:"role"`
	Disabled    *bool   `json:"disabled"`
	Language    *string `json:"language"`
}

// UserIDParams name one user.
type UserIDParams struct {
	UserID int64 `json:"user_id"`
}

// ResetPasswordParams are the params of users.reset_password.
type ResetPasswordParams struct {
	UserID   int64  `json:"user_id"`
	Password string `json:"password,omitempty"`
}

// ResetPasswordResult is the result of users.reset_password. Password is
// set only when the server generated it.
type ResetPasswordResult struct {
	Password string `json:"password,omitempty"`
}

// AuditListParams are the params of audit.list. Times are RFC 3339.
type AuditListParams struct {
	User     string `json:"user"`
	Action   string `json:"action"`
	Since    string `json:"since"`
	Until    string `json:"until"`
	BeforeID int64  `json:"before_id"`
	Limit    int    `json:"limit"`
}

// AuditListResult is the result of audit.list.
type AuditListResult struct {
	Entries      []audit.Entry `json:"entries"`
	NextBeforeID int64         `json:"next_before_id"`
}

// AuditSnapshot is the audit topic's snapshot.
type AuditSnapshot struct {
	Entries []audit.Entry `json:"entries"`
}

// UserEvent is the data of user.created, user.updated and user.deleted.
type UserEvent struct {
	Kind string    `json:"-"` // user.created, user.updated or user.deleted
	User auth.User `json:"user"`
}

// AuditEvent is the data of audit.appended.
type AuditEvent struct {
	Entry audit.Entry `json:"entry"`
}

// ChangePasswordParams are the params of account.change_password.
type ChangePasswordParams struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// ConferenceCreateParams are the params of conference.create.
type ConferenceCreateParams struct {
	Title string `json:"title"`
	// Passcode, when set (4-16 characters), is asked of everyone who joins
	// but the hosts.
	Passcode string `json:"passcode,omitempty"`
	// ScheduledAt (RFC 3339), when set, is when the meeting is planned:
	// not in the past, at most a year ahead.
	ScheduledAt string `json:"scheduled_at,omitempty"`
	// CoHosts are usernames of officials or admins who host it with you.
	CoHosts []string `json:"co_hosts,omitempty"`
	// Lobby, true unless set to false, makes guests wait to be admitted.
	Lobby *bool `json:"lobby,omitempty"`
}

// ConferenceListParams are the params of conference.list.
type ConferenceListParams struct {
	// Mine lists only the meetings you host or co-host.
	Mine bool `json:"mine,omitempty"`
}

// MeetingResult carries one meeting.
type MeetingResult struct {
	Meeting conference.Meeting `json:"meeting"`
	// DialIn is, for the new meeting's host, how desk phones join it.
	DialIn *conference.DialIn `json:"dial_in,omitempty"`
}

// MeetingsResult is the result of conference.list.
type MeetingsResult struct {
	Meetings []conference.Meeting `json:"meetings"`
}

// ConferenceJoinParams are the params of conference.join. Name, when
// given, is shown on your tile instead of your display name.
type ConferenceJoinParams struct {
	Room     string `json:"room"`
	Name     string `json:"name,omitempty"`
	Passcode string `json:"passcode,omitempty"`
}

// RoomParams name a meeting by its room number.
type RoomParams struct {
	Room string `json:"room"`
}

// ConferenceJoinResult is the result of conference.join.
type ConferenceJoinResult struct {
	ParticipantID string                `json:"participant_id"`
	Meeting       conference.Meeting    `json:"meeting"`
	ICEServers    []webrtc.ICEServer    `json:"ice_servers"`
	Participants  []conference.PeerInfo `json:"participants"`
	// Host is true when you may moderate this meeting.
	Host bool `json:"host"`
	// Chat is the meeting's chat so far, oldest first.
	Chat []conference.ChatMessage `json:"chat"`
	// WaitingRoom is, for hosts, the meeting's lobby.
	WaitingRoom *conference.LobbyState `json:"waiting_room,omitempty"`
	// DialIn is how desk phones join: the number to dial and the PIN.
	DialIn *conference.DialIn `json:"dial_in,omitempty"`
}

// LobbyWaitResult is the result of conference.join for a guest the lobby
// holds back: no media yet. lobby.admitted (join again), lobby.denied or
// meeting.ended follow on the join's id.
type LobbyWaitResult struct {
	Lobby    bool               `json:"lobby"`
	WaiterID string             `json:"waiter_id"`
	Meeting  conference.Meeting `json:"meeting"`
}

// InviteParams are the params of conference.invite.
type InviteParams struct {
	Room string `json:"room"`
	// TTLHours is how long the link works: 1-168 hours. Default: 24.
	TTLHours int `json:"ttl_hours,omitempty"`
}

// InviteResult is a new invite link. The token is shown only now.
type InviteResult struct {
	URL       string `json:"url"`
	Path      string `json:"path"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// LobbyParams are the params of conference.lobby.
type LobbyParams struct {
	Enabled bool `json:"enabled"`
}

// GuestParams name a guest waiting in the lobby.
type GuestParams struct {
	GuestID string `json:"guest_id"`
}

// MuteParams are the params of conference.mute.
type MuteParams struct {
	ParticipantID string `json:"participant_id"`
	Muted         bool   `json:"muted"`
}

// ParticipantParams name a participant.
type ParticipantParams struct {
	ParticipantID string `json:"participant_id"`
}

// LockParams are the params of conference.lock.
type LockParams struct {
	Locked bool `json:"locked"`
}

// ChatParams are the params of conference.chat.
type ChatParams struct {
	Text string `json:"text"`
}

// HandParams are the params of conference.hand.
type HandParams struct {
	Raised bool `json:"raised"`
}

// ViewParams are the params of conference.view.
type ViewParams struct {
	Views      []conference.View `json:"views"`
	MaxBitrate *int              `json:"max_bitrate,omitempty"`
}

// SDPParams carry a session description.
type SDPParams struct {
	SDP string `json:"sdp"`
}

// CandidateParams are the params of webrtc.candidate.
type CandidateParams struct {
	PC        string                  `json:"pc"`
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

// LoginRequest is the body of POST /api/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is the body of a successful POST /api/login.
type LoginResponse struct {
	Token string    `json:"token"`
	User  auth.User `json:"user"`
	Role  auth.Role `json:"role"`
}

// GuestInviteRequest is the body of POST /api/guest/invite.
type GuestInviteRequest struct {
	Token string `json:"token"`
}

// GuestInviteResponse says where an invite link leads.
type GuestInviteResponse struct {
	Title     string `json:"title"`
	Room      string `json:"room"`
	Passcode  bool   `json:"passcode"`
	ExpiresAt string `json:"expires_at"`
}

// GuestRequest is the body of POST /api/guest.
type GuestRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Passcode string `json:"passcode,omitempty"`
}

// GuestResponse is the body of a successful POST /api/guest.
type GuestResponse struct {
	Token     string    `json:"token"`
	User      auth.User `json:"user"`
	Role      auth.Role `json:"role"`
	Room      string    `json:"room"`
	ExpiresAt string    `json:"expires_at"`
}

// messageSpec returns the spec of a request type.
func messageSpec(typ string) (MessageSpec, bool) {
	for _, m := range Messages {
		if m.Type == typ {
			return m, true
		}
	}
	return MessageSpec{}, false
}

// topicSpec returns the spec of a topic.
func topicSpec(topic string) (TopicSpec, bool) {
	for _, t := range Topics {
		if t.Topic == topic {
			return t, true
		}
	}
	return TopicSpec{}, false
}

// allowed reports whether role is in roles.
func allowed(roles []auth.Role, role auth.Role) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}
