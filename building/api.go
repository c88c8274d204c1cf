// Package building is civicd's access-control server and the state of the
// building's doors: places (sites, buildings, floors with floor plans),
// controllers, doors, cardholders, access levels and schedules kept in
// the store; the access decision for each card presented at a reader;
// door states and alarms (forced open, held open, tamper, controller
// offline, repeated denials) with an alarm queue; and the commands staff
// give (unlock, lock, lockdown), authorised by role and audited.
//
// Controllers reach it over MQTT through building/mqttlink, which turns
// their messages into calls of the device-side methods below and carries
// commands back through a [Commander]. building itself imports no MQTT
// code, so decisions and alarms are tested without a broker.
//
// cmd/civicd builds the [Service] with [New], runs it and shuts it down,
// and hands it to mqttlink as its [Device]. The console (webui) reaches it
// through an interface of its own that the Service satisfies, and follows
// it on the bus topics [TopicDoors], [TopicAlarms], [TopicAccess] and
// [TopicControllers]; a door station's unlock comes in as
// [Service.UnlockMomentary] with the answering extension's user as the
// [Actor]. building imports only the core (internal/events,
// internal/audit); docs/building.md describes it for users.
package building

import (
	"context"
	"time"
)

// This file is the contract between building (the engine) and
// building/mqttlink (the transport). Both sides build against it.

// Door and lock states, as controllers report them (ONVIF
// DoorPhysicalState and LockPhysicalState, simplified).
const (
	LockLocked   = "locked"
	LockUnlocked = "unlocked"

	ContactClosed = "closed"
	ContactOpen   = "open"
	ContactFault  = "fault"
)

// Reader directions.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// Swipe is a card (and optional PIN) presented at a reader, as a
// controller reports it.
type Swipe struct {
	Controller string    // controller id
	Reader     string    // reader id, unique within the controller
	Card       string    // card number as the reader reads it
	PIN        string    // entered PIN, if the reader has a keypad
	MsgID      string    // the controller's message id
	At         time.Time // when the controller saw it (its clock)
}

// Decision is civicd's answer to a Swipe.
type Decision struct {
	Granted       bool          `json:"granted"`
	Reason        string        `json:"reason"` // machine-readable: "granted", "unknown_card", "expired", "not_yet_valid", "outside_schedule", "no_access", "disabled", "lockdown", "door_locked_down", "anti_passback", "bad_pin"; with an error: "unknown_reader", "unknown_controller", "stale", "replayed", "invalid"
	Door          string        `json:"door,omitempty"`
	UnlockFor     time.Duration `json:"-"`          // how long to release the lock when granted
	UnlockSeconds int           `json:"unlock_s"`   // UnlockFor in whole seconds, for the wire
	Cardholder    string        `json:"cardholder"` // id, empty when the card is unknown
}

// DoorReport is a controller's report of one door's state; a field left
// empty did not change.
type DoorReport struct {
	Controller    string
	Door          string // door id as configured for the controller
	Lock          string // LockLocked or LockUnlocked, or ""
	Contact       string // ContactClosed, ContactOpen or ContactFault, or ""
	Tamper        *bool  // tamper switch state, nil when not reported
	RequestToExit bool   // the request-to-exit button was pressed
	MsgID         string
	At            time.Time
}

// Command is what civicd asks a controller to do to one door.
type Command struct {
	ID      string    `json:"id"` // message id; the acknowledgement carries it
	Door    string    `json:"door"`
	Action  string    `json:"action"`            // "unlock", "lock", "mode"
	Seconds int       `json:"seconds,omitempty"` // unlock: release for this long (0: until Until, or until locked)
	Until   time.Time `json:"until,omitzero"`    // unlock: release until then
	Mode    string    `json:"mode,omitempty"`    // mode: the door's new mode
	// At is when civicd issued the command (added after the first
	// contract; zero from older senders). A controller should ignore a
	// command much older than its unlock time, so one delivered late
	// never opens a door.
	At time.Time `json:"at,omitzero"`
}

// Command actions.
const (
	ActionUnlock = "unlock"
	ActionLock   = "lock"
	ActionMode   = "mode"
)

// Door modes (as in ONVIF DoorMode): controlled by cards, unlocked on
// schedule, or locked down.
const (
	ModeControlled = "controlled"
	ModeUnlocked   = "unlocked_schedule"
	ModeLockedDown = "locked_down"
)

// Ack is a controller's acknowledgement of a Command.
type Ack struct {
	Controller string
	CommandID  string
	OK         bool
	Error      string // why not, when !OK
}

// Commander carries commands to controllers (mqttlink implements it).
// Send returns once the command is published; its outcome comes later
// through Service.CommandAcked, or not at all when the controller is
// offline (the Service times it out).
type Commander interface {
	Send(ctx context.Context, controller string, cmd Command) error
}

// Device is the device-side of the Service: what the transport calls for
// each controller message. Every method checks its input (unknown ids,
// stale or replayed message ids are refused with an error that says why)
// and never panics.
type Device interface {
	// Authenticate checks a controller's MQTT credentials.
	Authenticate(controller, password string) bool
	// Swipe decides on a card presented at a reader and records the
	// access event.
	Swipe(ctx context.Context, s Swipe) (Decision, error)
	// DoorState applies a door report: states, alarms, events.
	DoorState(ctx context.Context, r DoorReport) error
	// Heartbeat marks a controller alive.
	Heartbeat(ctx context.Context, controller, msgID string, at time.Time) error
	// CommandAcked takes a controller's acknowledgement.
	CommandAcked(ctx context.Context, a Ack) error
}

// Actor is who gives a command: a console user, or the answering
// extension's linked user for a door station.
type Actor struct {
	User   string
	Role   string // "admin", "facilities", "official"
	Source string // client address, "sip:EXT" for a door station, or "cli"
}
