package webui

import "civic/building"

// The payloads of the building's requests, listed in the Messages table
// of protocol.go. The building's own types (building.Door, building.Alarm,
// ...) travel as they are; these wrap them.
//
// A request's "id" is its request id, so no payload can carry an object's
// id at the top level: create and update take the object under its name
// ({"site": {...}}), as their results give it back, and a request that
// names one object takes "<name>_id" ({"site_id": "hq"}, {"alarm_id": 7}).

// AccessCSVPath is where access events are exported as CSV.
const AccessCSVPath = "/api/building/access.csv"

// FloorPlanPath is the floor plan of floor {id}: GET it, POST a new one,
// DELETE it (floorplan.go).
const FloorPlanPath = "/api/building/floors/{id}/plan"

// BuildingOverview is the result of building.overview: everything the
// building page shows at load.
type BuildingOverview struct {
	Sites     []building.Site     `json:"sites"`
	Buildings []building.Building `json:"buildings"`
	Floors    []building.Floor    `json:"floors"`
	// Doors are the live states, by id.
	Doors     []building.DoorStatus `json:"doors"`
	Lockdowns []building.Lockdown   `json:"lockdowns"`
	// Controllers are the live states, by id.
	Controllers []building.ControllerStatus `json:"controllers"`
	// Alarms are the open alarms, oldest first.
	Alarms []building.Alarm `json:"alarms"`
	// Placements are the devices placed on every floor's plan.
	Placements []building.Placement `json:"placements"`
}

// DoorUnlockParams are the params of building.doors.unlock.
type DoorUnlockParams struct {
	Door string `json:"door"`
	// Seconds is how long (1-300); 0 or absent is the door's unlock time.
	Seconds int `json:"seconds,omitempty"`
}

// DoorUnlockUntilParams are the params of building.doors.unlock_until.
type DoorUnlockUntilParams struct {
	Door string `json:"door"`
	// Until (RFC 3339) is when civicd locks the door again: in the next
	// 24 hours.
	Until string `json:"until"`
}

// DoorCommandParams name the door of building.doors.lock.
type DoorCommandParams struct {
	Door string `json:"door"`
}

// CommandResult is the result of a door command: the id of the command
// sent to the controller. Its outcome shows as the door's last_command
// on the building.doors topic.
type CommandResult struct {
	CommandID string `json:"command_id"`
}

// LockdownStartParams are the params of building.lockdown.start.
type LockdownStartParams struct {
	Scope  building.Scope `json:"scope"`
	Reason string         `json:"reason"`
}

// ScopeParams name the lockdown of building.lockdown.release.
type ScopeParams struct {
	Scope building.Scope `json:"scope"`
}

// LockdownResult is the result of building.lockdown.start.
type LockdownResult struct {
	Lockdown building.Lockdown `json:"lockdown"`
}

// AlarmsListParams are the params of building.alarms.list. Every field is
// optional.
type AlarmsListParams struct {
	State string `json:"state"` // new, acknowledged or resolved
	Kind  string `json:"kind"`  // one of AlarmKinds
	Door  string `json:"door"`
	// From and To (RFC 3339) bound when the alarm was raised:
	// from <= raised_at < to.
	From     string `json:"from"`
	To       string `json:"to"`
	BeforeID int64  `json:"before_id"`
	Limit    int    `json:"limit"` // 1-1000; default 100
}

// AlarmsResult is the result of building.alarms.list. NextBeforeID is
// the before_id of the next page, 0 when there is none.
type AlarmsResult struct {
	Alarms       []building.Alarm `json:"alarms"`
	NextBeforeID int64            `json:"next_before_id"`
}

// AlarmCommentParams are the params of building.alarms.ack and
// building.alarms.resolve.
type AlarmCommentParams struct {
	AlarmID int64  `json:"alarm_id"`
	Comment string `json:"comment"`
}

// AlarmIDParams name an alarm.
type AlarmIDParams struct {
	AlarmID int64 `json:"alarm_id"`
}

// AlarmResult carries one alarm.
type AlarmResult struct {
	Alarm building.Alarm `json:"alarm"`
}

// AlarmHistoryResult is the result of building.alarms.history.
type AlarmHistoryResult struct {
	History []building.AlarmHistory `json:"history"`
}

// AlarmKinds are the kinds of alarm, in documentation order.
var AlarmKinds = []string{
	building.AlarmForcedOpen, building.AlarmHeldOpen, building.AlarmTamper,
	building.AlarmControllerOffline, building.AlarmRepeatedDenials,
}

// AlarmStates are the states of an alarm, in order.
var AlarmStates = []string{building.AlarmNew, building.AlarmAcknowledged, building.AlarmResolved}

// AccessListParams are the params of building.access.list, and the query
// of the CSV export. Every field is optional.
type AccessListParams struct {
	Cardholder string `json:"cardholder"` // a cardholder id
	Card       string `json:"card"`       // a card number, as any reader writes it
	Door       string `json:"door"`
	Granted    *bool  `json:"granted"`
	// From and To (RFC 3339) bound the event time: from <= at < to.
	From     string `json:"from"`
	To       string `json:"to"`
	BeforeID int64  `json:"before_id"`
	// Limit is 1-1000, default 100. The CSV export takes up to
	// maxAccessCSVRows, default defaultAccessCSVRows.
	Limit int `json:"limit"`
}

// AccessResult is the result of building.access.list.
type AccessResult struct {
	Events       []building.AccessEvent `json:"events"`
	NextBeforeID int64                  `json:"next_before_id"`
}

// DoorsSnapshot is the building.doors topic's snapshot.
type DoorsSnapshot struct {
	Doors     []building.DoorStatus `json:"doors"`
	Lockdowns []building.Lockdown   `json:"lockdowns"`
}

// AlarmsSnapshot is the building.alarms topic's snapshot: the open
// alarms, oldest first.
type AlarmsSnapshot struct {
	Alarms []building.Alarm `json:"alarms"`
}

// ControllersSnapshot is the building.controllers topic's snapshot.
type ControllersSnapshot struct {
	Controllers []building.ControllerStatus `json:"controllers"`
}

// SitesResult is the result of building.sites.list.
type SitesResult struct {
	Sites []building.Site `json:"sites"`
}

// SiteBody carries one site: the params of create and update, and their
// result.
type SiteBody struct {
	Site building.Site `json:"site"`
}

// SiteIDParams name a site.
type SiteIDParams struct {
	SiteID string `json:"site_id"`
}

// BuildingsResult is the result of building.buildings.list.
type BuildingsResult struct {
	Buildings []building.Building `json:"buildings"`
}

// BuildingBody carries one building.
type BuildingBody struct {
	Building building.Building `json:"building"`
}

// BuildingIDParams name a building.
type BuildingIDParams struct {
	BuildingID string `json:"building_id"`
}

// FloorsResult is the result of building.floors.list.
type FloorsResult struct {
	Floors []building.Floor `json:"floors"`
}

// FloorBody carries one floor. Its plan (the content type) is read-only.
type FloorBody struct {
	Floor building.Floor `json:"floor"`
}

// FloorIDParams name a floor.
type FloorIDParams struct {
	FloorID string `json:"floor_id"`
}

// ControllersResult is the result of building.controllers.list: the
// settings, never a password.
type ControllersResult struct {
	Controllers []building.Controller `json:"controllers"`
}

// ControllerParams are the params of building.controllers.create and
// update: the controller with its password.
type ControllerParams struct {
	Controller building.ControllerInput `json:"controller"`
}

// ControllerResult carries one controller, without its password.
type ControllerResult struct {
	Controller building.Controller `json:"controller"`
}

// ControllerIDParams name a controller.
type ControllerIDParams struct {
	ControllerID string `json:"controller_id"`
}

// DoorsResult is the result of building.doors.list: the configured doors
// (their live state is in building.overview and on building.doors).
type DoorsResult struct {
	Doors []building.Door `json:"doors"`
}

// DoorBody carries one door's settings.
type DoorBody struct {
	Door building.Door `json:"door"`
}

// DoorIDParams name a door to delete.
type DoorIDParams struct {
	DoorID string `json:"door_id"`
}

// CardholdersResult is the result of building.cardholders.list.
type CardholdersResult struct {
	Cardholders []building.Cardholder `json:"cardholders"`
}

// CardholderParams are the params of building.cardholders.create and
// update: the cardholder with a new PIN or clear_pin.
type CardholderParams struct {
	Cardholder building.CardholderInput `json:"cardholder"`
}

// CardholdersImportParams are the cardholders of an import.
type CardholdersImportParams struct {
	Cardholders []building.CardholderInput `json:"cardholders"`
}

// CardholdersImportResult says how many cardholders an import created
// and updated.
type CardholdersImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// CardholderResult carries one cardholder, without a PIN.
type CardholderResult struct {
	Cardholder building.Cardholder `json:"cardholder"`
}

// CardholderIDParams name a cardholder.
type CardholderIDParams struct {
	CardholderID string `json:"cardholder_id"`
}

// AccessLevelsResult is the result of building.access_levels.list.
type AccessLevelsResult struct {
	AccessLevels []building.AccessLevel `json:"access_levels"`
}

// AccessLevelBody carries one access level.
type AccessLevelBody struct {
	AccessLevel building.AccessLevel `json:"access_level"`
}

// AccessLevelIDParams name an access level.
type AccessLevelIDParams struct {
	AccessLevelID string `json:"access_level_id"`
}

// SchedulesResult is the result of building.schedules.list.
type SchedulesResult struct {
	Schedules []building.Schedule `json:"schedules"`
}

// ScheduleBody carries one schedule.
type ScheduleBody struct {
	Schedule building.Schedule `json:"schedule"`
}

// ScheduleIDParams name a schedule.
type ScheduleIDParams struct {
	ScheduleID string `json:"schedule_id"`
}

// HolidaysResult is the result of building.holidays.list.
type HolidaysResult struct {
	Holidays []building.Holiday `json:"holidays"`
}

// HolidayResult carries one holiday.
type HolidayResult struct {
	Holiday building.Holiday `json:"holiday"`
}

// HolidayDateParams name a holiday by its date.
type HolidayDateParams struct {
	Date string `json:"date"`
}

// PlacementsListParams name the floor of building.placements.list.
type PlacementsListParams struct {
	Floor string `json:"floor"`
}

// PlacementsResult is the result of building.placements.list.
type PlacementsResult struct {
	Placements []building.Placement `json:"placements"`
}

// PlacementResult carries one placement.
type PlacementResult struct {
	Placement building.Placement `json:"placement"`
}

// PlacementKeyParams name a placed device.
type PlacementKeyParams struct {
	Kind   string `json:"kind"`
	Device string `json:"device"`
}

// AuditedByModule maps the requests whose module audits them itself to
// the module's audit action: building writes one entry for each door
// command and alarm change, with its outcome, and the console writes
// none of its own for them, so each command has exactly one entry. The
// console still audits what never reaches the module: a refusal by the
// role table (under the request type, as for every request), and a
// request it cannot read (under the module's action).
var AuditedByModule = map[string]string{
	TypeDoorsUnlock:      "building.unlock",
	TypeDoorsUnlockUntil: "building.unlock_until",
	TypeDoorsLock:        "building.lock",
	TypeLockdownStart:    "building.lockdown",
	TypeLockdownRelease:  "building.lockdown_release",
	TypeAlarmsAck:        "building.alarm_acknowledge",
	TypeAlarmsResolve:    "building.alarm_resolve",
}
