package building

import (
	"time"

	"civic/internal/events"
)

// Bus topics. Each event carries the full new state of what it is about,
// so a consumer applies it as is; the snapshot methods (Doors,
// Lockdowns, Alarms, Controllers) give the state to start from.
const (
	TopicDoors       events.Topic = "building.doors"       // DoorEvent, LockdownEvent
	TopicAlarms      events.Topic = "building.alarms"      // AlarmEvent
	TopicAccess      events.Topic = "building.access"      // AccessEvent
	TopicControllers events.Topic = "building.controllers" // ControllerEvent
)

// Event kinds.
const (
	KindDoorChanged      = "building.door_changed"      // a door's state or settings changed
	KindDoorRemoved      = "building.door_removed"      // the door was deleted
	KindLockdownStarted  = "building.lockdown_started"  // a building or floor was locked down
	KindLockdownReleased = "building.lockdown_released" // a lockdown ended
	KindFloorChanged     = "building.floor_changed"     // a floor plan was uploaded or removed, or a device placed or moved on it

	KindAlarmRaised       = "building.alarm_raised"       // a new alarm
	KindAlarmRepeated     = "building.alarm_repeated"     // an open alarm's condition occurred again (Count grew)
	KindAlarmAcknowledged = "building.alarm_acknowledged" // a user acknowledged it
	KindAlarmResolved     = "building.alarm_resolved"     // resolved by a user or by itself

	KindAccess = "building.access" // an access decision

	KindControllerOnline  = "building.controller_online"
	KindControllerOffline = "building.controller_offline"
	KindControllerChanged = "building.controller_changed" // created or edited
	KindControllerRemoved = "building.controller_removed"
)

// DoorStatus is a door's live state with the settings the console shows.
type DoorStatus struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Floor      string `json:"floor"`
	Building   string `json:"building"`
	Controller string `json:"controller"`
	// Mode is the door's configured mode; Lockdown says a building or
	// floor lockdown is in force over it.
	Mode     string `json:"mode"`
	Lockdown bool   `json:"lockdown"`
	// Lock and Contact are as last reported ("" until the controller
	// reports).
	Lock    string `json:"lock"`
	Contact string `json:"contact"`
	Tamper  bool   `json:"tamper"`
	// Online is the controller's state.
	Online bool `json:"online"`
	// Alarm says an alarm about this door is open.
	Alarm bool `json:"alarm"`
	// UnlockedUntil is set while an UnlockUntil is in force.
	UnlockedUntil time.Time `json:"unlocked_until,omitzero"`
	// UnlockSeconds is how long a grant or a momentary unlock releases
	// the lock (the door's setting), the console's default for Unlock.
	UnlockSeconds int      `json:"unlock_seconds"`
	Cameras       []string `json:"cameras"`
	// LastCommand is the newest command given to the door.
	LastCommand *CommandStatus `json:"last_command,omitempty"`
	ChangedAt   time.Time      `json:"changed_at,omitzero"`
}

// CommandStatus is a command's progress.
type CommandStatus struct {
	ID     string    `json:"id"`
	Action string    `json:"action"`
	State  string    `json:"state"` // CommandPending, CommandOK or CommandFailed
	Error  string    `json:"error,omitempty"`
	By     string    `json:"by"` // user, or "system"
	At     time.Time `json:"at"`
}

// Command states.
const (
	CommandPending = "pending"
	CommandOK      = "ok"
	CommandFailed  = "failed"
)

// DoorEvent says a door changed (or was removed): Door is its full state.
type DoorEvent struct {
	Kind string     `json:"-"`
	Door DoorStatus `json:"door"`
}

// EventTopic implements events.Payload.
func (DoorEvent) EventTopic() events.Topic { return TopicDoors }

// EventKind implements events.Payload.
func (e DoorEvent) EventKind() string { return e.Kind }

// LockdownEvent says a lockdown started or ended. The doors it covers
// get their own DoorEvent.
type LockdownEvent struct {
	Kind     string   `json:"-"`
	Lockdown Lockdown `json:"lockdown"`
}

// EventTopic implements events.Payload.
func (LockdownEvent) EventTopic() events.Topic { return TopicDoors }

// EventKind implements events.Payload.
func (e LockdownEvent) EventKind() string { return e.Kind }

// AlarmEvent says an alarm was raised, repeated, acknowledged or
// resolved; Alarm is its full state.
type AlarmEvent struct {
	Kind  string `json:"-"`
	Alarm Alarm  `json:"alarm"`
}

// FloorEvent says a floor's plan or the placements on it changed, so
// every console redraws it: the floor (Plan tells whether it has a plan)
// and every device placed on it.
type FloorEvent struct {
	Floor      Floor       `json:"floor"`
	Placements []Placement `json:"placements"`
}

// EventTopic implements events.Payload.
func (FloorEvent) EventTopic() events.Topic { return TopicDoors }

// EventKind implements events.Payload.
func (FloorEvent) EventKind() string { return KindFloorChanged }

// EventTopic implements events.Payload.
func (AlarmEvent) EventTopic() events.Topic { return TopicAlarms }

// EventKind implements events.Payload.
func (e AlarmEvent) EventKind() string { return e.Kind }

// AccessEvent is one access decision, as stored and as published.
type AccessEvent struct {
	ID             int64     `json:"id"`
	At             time.Time `json:"at"`
	Door           string    `json:"door"`
	DoorName       string    `json:"door_name"`
	Controller     string    `json:"controller"`
	Reader         string    `json:"reader"`
	Direction      string    `json:"direction"`
	Card           string    `json:"card"`
	Cardholder     string    `json:"cardholder"` // id; "" for an unknown card
	CardholderName string    `json:"cardholder_name"`
	Granted        bool      `json:"granted"`
	Reason         string    `json:"reason"`
}

// EventTopic implements events.Payload.
func (AccessEvent) EventTopic() events.Topic { return TopicAccess }

// EventKind implements events.Payload.
func (AccessEvent) EventKind() string { return KindAccess }

// ControllerStatus is a controller's live state.
type ControllerStatus struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Online           bool      `json:"online"`
	LastSeen         time.Time `json:"last_seen,omitzero"`
	HeartbeatSeconds int       `json:"heartbeat_seconds"`
	FailMode         string    `json:"fail_mode"`
}

// ControllerEvent says a controller went online or offline, or was
// created, edited or removed.
type ControllerEvent struct {
	Kind       string           `json:"-"`
	Controller ControllerStatus `json:"controller"`
}

// EventTopic implements events.Payload.
func (ControllerEvent) EventTopic() events.Topic { return TopicControllers }

// EventKind implements events.Payload.
func (e ControllerEvent) EventKind() string { return e.Kind }

// Interface guards.
var (
	_ events.Payload = DoorEvent{}
	_ events.Payload = LockdownEvent{}
	_ events.Payload = AlarmEvent{}
	_ events.Payload = AccessEvent{}
	_ events.Payload = ControllerEvent{}
)
