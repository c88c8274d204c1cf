// Package wire is protocol v1 between door controllers and civicd over
// MQTT, as docs/devices-mqtt.md describes it: the topic scheme, the JSON
// payloads, and the checks every payload must pass. It holds no state and
// imports no MQTT code, so the transport (building/mqttlink), the
// simulator (cmd/civicsim) and any other tool may import it.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the protocol version every payload carries in "v".
const Version = 1

// Limits.
const (
	// MaxPayload is the largest payload, in bytes, either side accepts.
	MaxPayload = 4096
	// MaxID is the longest id (controller, door, reader, message, card).
	MaxID = 64
	// MaxPIN is the longest PIN.
	MaxPIN = 16
	// MaxText is the longest free text (an ack's error, a status reason).
	MaxText = 256
)

// Prefix starts every topic; the controller id follows it.
const Prefix = "civic/v1/controllers/"

// Kind names a topic in the scheme, and so the payload it carries.
type Kind string

// Topic kinds. The first five go from a controller to civicd.
const (
	KindStatus    Kind = "status"
	KindHeartbeat Kind = "heartbeat"
	KindDoorState Kind = "door_state"
	KindCard      Kind = "card"
	KindAck       Kind = "ack"
	KindDecision  Kind = "decision"
	KindCommand   Kind = "command"
)

// Upstream reports whether a controller publishes messages of kind k (and
// civicd receives them).
func (k Kind) Upstream() bool {
	switch k {
	case KindStatus, KindHeartbeat, KindDoorState, KindCard, KindAck:
		return true
	}
	return false
}

// Status values.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Fail modes: what a controller does when civicd is unreachable.
const (
	FailSecure = "secure"
	FailSafe   = "safe"
)

// Topic is a parsed topic name. Door is set for KindDoorState, Reader for
// KindCard and KindDecision.
type Topic struct {
	Controller string
	Kind       Kind
	Door       string
	Reader     string
}

// String returns the topic name.
func (t Topic) String() string {
	base := Prefix + t.Controller + "/"
	switch t.Kind {
	case KindStatus:
		return base + "status"
	case KindHeartbeat:
		return base + "heartbeat"
	case KindDoorState:
		return base + "doors/" + t.Door + "/state"
	case KindCard:
		return base + "readers/" + t.Reader + "/card"
	case KindAck:
		return base + "acks"
	case KindDecision:
		return base + "readers/" + t.Reader + "/decision"
	case KindCommand:
		return base + "commands"
	}
	return base + "?"
}

// StatusTopic is controller c's status topic.
func StatusTopic(c string) string { return Topic{Controller: c, Kind: KindStatus}.String() }

// HeartbeatTopic is controller c's heartbeat topic.
func HeartbeatTopic(c string) string { return Topic{Controller: c, Kind: KindHeartbeat}.String() }

// AckTopic is controller c's acknowledgement topic.
func AckTopic(c string) string { return Topic{Controller: c, Kind: KindAck}.String() }

// CommandTopic is controller c's command topic.
func CommandTopic(c string) string { return Topic{Controller: c, Kind: KindCommand}.String() }

// DoorStateTopic is the state topic of door on controller c.
func DoorStateTopic(c, door string) string {
	return Topic{Controller: c, Kind: KindDoorState, Door: door}.String()
}

// CardTopic is the card topic of reader on controller c.
func CardTopic(c, reader string) string {
	return Topic{Controller: c, Kind: KindCard, Reader: reader}.String()
}

// DecisionTopic is the decision topic of reader on controller c.
func DecisionTopic(c, reader string) string {
	return Topic{Controller: c, Kind: KindDecision, Reader: reader}.String()
}

// Subscriptions are the topic filters civicd subscribes to: every
// controller's upstream topics.
var Subscriptions = []string{
	Prefix + "+/status",
	Prefix + "+/heartbeat",
	Prefix + "+/doors/+/state",
	Prefix + "+/readers/+/card",
	Prefix + "+/acks",
}

// ErrTopic is returned by ParseTopic for a name outside the scheme.
var ErrTopic = errors.New("topic outside the civic/v1 scheme")

// ParseTopic parses a topic name (not a filter: "+" and "#" are invalid
// ids) of any kind.
func ParseTopic(name string) (Topic, error) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return Topic{}, ErrTopic
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || !ValidID(parts[0]) {
		return Topic{}, ErrTopic
	}
	t := Topic{Controller: parts[0]}
	switch {
	case len(parts) == 2 && parts[1] == "status":
		t.Kind = KindStatus
	case len(parts) == 2 && parts[1] == "heartbeat":
		t.Kind = KindHeartbeat
	case len(parts) == 2 && parts[1] == "acks":
		t.Kind = KindAck
	case len(parts) == 2 && parts[1] == "commands":
		t.Kind = KindCommand
	case len(parts) == 4 && parts[1] == "doors" && parts[3] == "state" && ValidID(parts[2]):
		t.Kind, t.Door = KindDoorState, parts[2]
	case len(parts) == 4 && parts[1] == "readers" && parts[3] == "card" && ValidID(parts[2]):
		t.Kind, t.Reader = KindCard, parts[2]
	case len(parts) == 4 && parts[1] == "readers" && parts[3] == "decision" && ValidID(parts[2]):
		t.Kind, t.Reader = KindDecision, parts[2]
	default:
		return Topic{}, ErrTopic
	}
	return t, nil
}

// ValidID reports whether s is a valid id: 1-64 characters from
// A-Z a-z 0-9 . _ : -
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func validPIN(s string) bool {
	if len(s) > MaxPIN {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// Error is why a payload was refused. Reason is a fixed, machine-readable
// word for logs and counters.
type Error struct {
	Reason string // see the Reason constants
	Detail string
}

// Reasons a payload is refused.
const (
	ReasonOversized = "oversized"
	ReasonMalformed = "malformed"
	ReasonVersion   = "bad_version"
	ReasonID        = "bad_id"
	ReasonTS        = "bad_ts"
	ReasonField     = "bad_field"
)

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

func fail(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Header is the part every payload shares.
type Header struct {
	V  int       `json:"v"`
	ID string    `json:"id"`
	TS time.Time `json:"ts"`
}

// Head returns the header.
func (h *Header) Head() *Header { return h }

// NewHeader returns a v1 header with message id id made at time at.
func NewHeader(id string, at time.Time) Header { return Header{V: Version, ID: id, TS: at} }

func (h *Header) check() *Error {
	switch {
	case h.V == 0:
		return fail(ReasonVersion, "v missing")
	case h.V != Version:
		return fail(ReasonVersion, "v %d, want %d", h.V, Version)
	case h.ID == "":
		return fail(ReasonID, "id missing")
	case !ValidID(h.ID):
		return fail(ReasonID, "id is not 1-%d characters of A-Z a-z 0-9 . _ : -", MaxID)
	case h.TS.IsZero():
		return fail(ReasonTS, "ts missing")
	}
	return nil
}

// Message is any payload.
type Message interface {
	Head() *Header
	check() *Error
}

// Status is a controller's online or offline status.
type Status struct {
	Header
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	FailMode string `json:"fail_mode,omitempty"`
	Firmware string `json:"firmware,omitempty"`
}

func (m *Status) check() *Error {
	if m.Status != StatusOnline && m.Status != StatusOffline {
		return fail(ReasonField, "status must be online or offline")
	}
	if m.FailMode != "" && m.FailMode != FailSecure && m.FailMode != FailSafe {
		return fail(ReasonField, "fail_mode must be secure or safe")
	}
	if len(m.Reason) > MaxText || len(m.Firmware) > MaxText {
		return fail(ReasonField, "reason or firmware too long")
	}
	return nil
}

// Heartbeat says a controller is alive.
type Heartbeat struct {
	Header
	UptimeS int64 `json:"uptime_s,omitempty"`
}

func (m *Heartbeat) check() *Error { return nil }

// Door and lock states on the wire (the same words as package building).
const (
	LockLocked    = "locked"
	LockUnlocked  = "unlocked"
	ContactClosed = "closed"
	ContactOpen   = "open"
	ContactFault  = "fault"
)

// DoorState is a controller's report of one door.
type DoorState struct {
	Header
	Lock          string `json:"lock,omitempty"`
	Contact       string `json:"contact,omitempty"`
	Tamper        *bool  `json:"tamper,omitempty"`
	RequestToExit bool   `json:"request_to_exit,omitempty"`
}

func (m *DoorState) check() *Error {
	if m.Lock != "" && m.Lock != LockLocked && m.Lock != LockUnlocked {
		return fail(ReasonField, "lock must be locked or unlocked")
	}
	if m.Contact != "" && m.Contact != ContactClosed && m.Contact != ContactOpen && m.Contact != ContactFault {
		return fail(ReasonField, "contact must be closed, open or fault")
	}
	if m.Lock == "" && m.Contact == "" && m.Tamper == nil && !m.RequestToExit {
		return fail(ReasonField, "no lock, contact, tamper or request_to_exit")
	}
	return nil
}

// Card is a card presented at a reader.
type Card struct {
	Header
	Card string `json:"card"`
	PIN  string `json:"pin,omitempty"`
}

func (m *Card) check() *Error {
	if !ValidID(m.Card) {
		return fail(ReasonField, "card is not 1-%d characters of A-Z a-z 0-9 . _ : -", MaxID)
	}
	if !validPIN(m.PIN) {
		return fail(ReasonField, "pin is not up to %d of 0-9 * #", MaxPIN)
	}
	return nil
}

// Ack acknowledges a command.
type Ack struct {
	Header
	Re    string `json:"re"`
	OK    *bool  `json:"ok"`
	Error string `json:"error,omitempty"`
}

func (m *Ack) check() *Error {
	if !ValidID(m.Re) {
		return fail(ReasonField, "re is not a valid command id")
	}
	if m.OK == nil {
		return fail(ReasonField, "ok missing")
	}
	if len(m.Error) > MaxText {
		return fail(ReasonField, "error longer than %d", MaxText)
	}
	return nil
}

// Decision is civicd's answer to a Card.
type Decision struct {
	Header
	Re         string `json:"re"`
	Granted    bool   `json:"granted"`
	Reason     string `json:"reason"`
	Door       string `json:"door,omitempty"`
	UnlockS    int    `json:"unlock_s"`
	Cardholder string `json:"cardholder,omitempty"`
}

func (m *Decision) check() *Error {
	if !ValidID(m.Re) {
		return fail(ReasonField, "re is not a valid message id")
	}
	if m.Reason == "" || len(m.Reason) > MaxID {
		return fail(ReasonField, "reason missing")
	}
	if m.UnlockS < 0 || m.UnlockS > 86400 {
		return fail(ReasonField, "unlock_s out of range")
	}
	return nil
}

// Command actions and door modes (the same words as package building).
const (
	ActionUnlock         = "unlock"
	ActionLock           = "lock"
	ActionMode           = "mode"
	ModeControlled       = "controlled"
	ModeUnlockedSchedule = "unlocked_schedule"
	ModeLockedDown       = "locked_down"
)

// Command is what civicd asks a controller to do to one door.
type Command struct {
	Header
	Door    string    `json:"door"`
	Action  string    `json:"action"`
	Seconds int       `json:"seconds,omitempty"`
	Until   time.Time `json:"until,omitzero"`
	Mode    string    `json:"mode,omitempty"`
}

func (m *Command) check() *Error {
	if !ValidID(m.Door) {
		return fail(ReasonField, "door is not a valid id")
	}
	switch m.Action {
	case ActionUnlock:
		if m.Seconds < 0 || m.Seconds > 86400 {
			return fail(ReasonField, "seconds out of range")
		}
	case ActionLock:
	case ActionMode:
		if m.Mode != ModeControlled && m.Mode != ModeUnlockedSchedule && m.Mode != ModeLockedDown {
			return fail(ReasonField, "mode must be controlled, unlocked_schedule or locked_down")
		}
	default:
		return fail(ReasonField, "action must be unlock, lock or mode")
	}
	return nil
}

// New returns an empty message of kind k, or nil for an unknown kind.
func New(k Kind) Message {
	switch k {
	case KindStatus:
		return &Status{}
	case KindHeartbeat:
		return &Heartbeat{}
	case KindDoorState:
		return &DoorState{}
	case KindCard:
		return &Card{}
	case KindAck:
		return &Ack{}
	case KindDecision:
		return &Decision{}
	case KindCommand:
		return &Command{}
	}
	return nil
}

// Decode parses and checks a payload of kind k. A refusal is an *Error.
// It never panics, whatever the input.
func Decode(k Kind, payload []byte) (Message, error) {
	if len(payload) > MaxPayload {
		return nil, fail(ReasonOversized, "%d bytes, limit %d", len(payload), MaxPayload)
	}
	m := New(k)
	if m == nil {
		return nil, fail(ReasonMalformed, "unknown kind %q", k)
	}
	if err := json.Unmarshal(payload, m); err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) || strings.Contains(err.Error(), "Time.UnmarshalJSON") {
			return nil, fail(ReasonTS, "a time is not RFC 3339")
		}
		return nil, fail(ReasonMalformed, "%s", jsonError(err))
	}
	if err := m.Head().check(); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// jsonError says what is wrong without echoing the input at length.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q: want %s", te.Field, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not JSON (offset %d)", se.Offset)
	}
	return "not a JSON object of the expected shape"
}

// Encode checks m and returns its JSON.
func Encode(m Message) ([]byte, error) {
	if err := m.Head().check(); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if len(b) > MaxPayload {
		return nil, fail(ReasonOversized, "%d bytes, limit %d", len(b), MaxPayload)
	}
	return b, nil
}
