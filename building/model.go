package building

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Site is a place with its own time zone: it holds buildings.
type Site struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// TimeZone is the IANA zone schedules are read in, such as
	// "Asia/Shanghai"; "" is the daemon's zone (Config.Location).
	TimeZone string `json:"time_zone"`
	// AntiPassback turns in/out alternation on for every door of the site
	// that has both readers.
	AntiPassback bool `json:"anti_passback"`
}

// Building is one building of a site.
type Building struct {
	ID   string `json:"id"`
	Site string `json:"site"`
	Name string `json:"name"`
}

// Floor is one floor of a building, with an optional plan.
type Floor struct {
	ID       string `json:"id"`
	Building string `json:"building"`
	Name     string `json:"name"`
	Level    int    `json:"level"` // sorts floors: 0 ground, -1 basement
	// Plan is the content type of the floor plan ("image/png" or
	// "image/svg+xml"), or "" when there is none. It is read-only here:
	// SetFloorPlan sets it.
	Plan string `json:"plan,omitempty"`
}

// Placement puts a device on a floor plan at X, Y, fractions 0..1 of the
// plan's width and height from its top left corner.
type Placement struct {
	Floor  string  `json:"floor"`
	Kind   string  `json:"kind"` // PlaceDoor or PlaceCamera
	Device string  `json:"device"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
}

// Kinds of placed devices.
const (
	PlaceDoor   = "door"
	PlaceCamera = "camera"
)

// Controller is a door controller that talks MQTT.
type Controller struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// HeartbeatSeconds is how often the controller sends a heartbeat;
	// Config.HeartbeatMisses intervals without any message make it
	// offline. Default: 30.
	HeartbeatSeconds int `json:"heartbeat_seconds"`
	// FailMode is what the controller does with its doors while civicd is
	// unreachable: FailSecure (stay locked; cards cached on the
	// controller, if any, still work) or FailSafe (unlock). Default:
	// FailSecure. civicd only records it; the controller applies it.
	FailMode string `json:"fail_mode"`
}

// ControllerInput is a controller as an admin creates or edits it.
type ControllerInput struct {
	Controller
	// Password is the controller's MQTT password, 12-72 bytes; required
	// on create, and on update "" keeps the old one. Only its bcrypt hash
	// is stored.
	Password string `json:"password,omitempty"`
}

// Controller fail modes.
const (
	FailSecure = "secure"
	FailSafe   = "safe"
)

// Door is a door: where it is, the controller and readers that serve it,
// its timings, mode and linked cameras.
type Door struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Floor      string `json:"floor"`
	Controller string `json:"controller"`
	// ReaderIn and ReaderOut are the ids (unique within the controller)
	// of the readers outside (entering) and inside (leaving); either may
	// be "". A reader with ...PIN set also asks for the cardholder's PIN.
	ReaderIn     string `json:"reader_in"`
	ReaderInPIN  bool   `json:"reader_in_pin"`
	ReaderOut    string `json:"reader_out"`
	ReaderOutPIN bool   `json:"reader_out_pin"`
	// UnlockSeconds is how long a grant releases the lock. Default: 5.
	UnlockSeconds int `json:"unlock_seconds"`
	// HeldOpenSeconds is how long the door may stay open before a
	// held-open alarm. Default: 30.
	HeldOpenSeconds int `json:"held_open_seconds"`
	// Cameras are the ids of the cameras that see this door, nearest
	// first; alarms carry them for the console's live view.
	Cameras []string `json:"cameras"`
	// Mode is ModeControlled, ModeUnlocked (unlocked during Schedule) or
	// ModeLockedDown. Default: ModeControlled.
	Mode string `json:"mode"`
	// Schedule is the schedule of ModeUnlocked (required there).
	Schedule string `json:"schedule,omitempty"`
	// AntiPassback makes the door's cards alternate in and out (it is
	// also on when the site's is).
	AntiPassback bool `json:"anti_passback"`
	// StationExtension is the SIP extension of this door's door station,
	// and StationDigit the DTMF key the answering party presses to open
	// it; both or neither.
	StationExtension string `json:"station_extension,omitempty"`
	StationDigit     string `json:"station_digit,omitempty"`
}

// Cardholder is a person who may carry cards.
type Cardholder struct {
	ID         string   `json:"id"` // generated when empty on create
	Name       string   `json:"name"`
	Department string   `json:"department"`
	Cards      []string `json:"cards"` // card numbers, unique across cardholders
	// HasPIN says a PIN is set; it is read-only here (see
	// CardholderInput).
	HasPIN bool `json:"has_pin"`
	// ValidFrom and ValidUntil bound when the cards work (from inclusive,
	// until exclusive); zero is unbounded.
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	Status     string    `json:"status"` // StatusActive or StatusDisabled; default active
	// Responder cards keep working during a lockdown.
	Responder    bool     `json:"responder"`
	AccessLevels []string `json:"access_levels"`
}

// CardholderInput is a cardholder as an admin creates or edits it.
type CardholderInput struct {
	Cardholder
	// PIN is a new PIN of 4-8 digits; "" keeps the old one (none on
	// create). Only a bcrypt hash is stored.
	PIN string `json:"pin,omitempty"`
	// ClearPIN removes the PIN.
	ClearPIN bool `json:"clear_pin,omitempty"`
}

// Cardholder statuses.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// AccessLevel is a set of doors, each open to the level's cardholders
// during a schedule.
type AccessLevel struct {
	ID    string      `json:"id"` // generated when empty on create
	Name  string      `json:"name"`
	Doors []LevelDoor `json:"doors"`
}

// LevelDoor is one door of an access level, with its schedule ("" means
// at all times).
type LevelDoor struct {
	Door     string `json:"door"`
	Schedule string `json:"schedule,omitempty"`
}

// Schedule is a set of weekly time windows in the site's local time. On a
// holiday only its "holiday" windows apply (none: closed all day).
type Schedule struct {
	ID      string   `json:"id"` // generated when empty on create
	Name    string   `json:"name"`
	Windows []Window `json:"windows"`
}

// Window is a time span on a day: Day is "mon".."sun" or "holiday",
// Start and End are "HH:MM" local time, End after Start ("24:00" ends at
// midnight).
type Window struct {
	Day   string `json:"day"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// Holiday is a local date ("2026-10-01") on which schedules use their
// holiday windows.
type Holiday struct {
	Date string `json:"date"`
	Name string `json:"name"`
}

// Input limits.
const (
	maxIDLen        = 64
	maxNameRunes    = 64
	maxTextRunes    = 500
	maxCardLen      = 32
	maxCards        = 10
	maxCameras      = 8
	maxLevelDoors   = 2000
	maxWindows      = 64
	maxHolderLevels = 50
	minPassword     = 12
	maxPassword     = 72 // bcrypt reads no further
	maxUnlockSecs   = 300
	maxHeldOpenSecs = 3600
	minHeartbeat    = 5
	maxHeartbeat    = 3600
	defaultUnlock   = 5
	defaultHeldOpen = 30
	defaultHeartbt  = 30
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// validID reports whether id is 1-64 of [A-Za-z0-9._-].
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkID checks an id; what names it in the error ("a door id").
func checkID(id, what string) error {
	if !validID(id) {
		return invalidf("%s must be 1-%d letters, digits, '.', '_' or '-'", what, maxIDLen)
	}
	return nil
}

// newID makes an id with a prefix for rows whose creator gave none.
func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// cleanText trims s and checks its length (in characters) and that it has
// no control characters; what names the field in the error.
func cleanText(s, what string, required bool, maxRunes int) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", invalidf("a %s is required", what)
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes {
		return "", invalidf("a %s must be at most %d characters", what, maxRunes)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", invalidf("a %s must not contain control characters", what)
	}
	return s, nil
}

// normCard returns a card number as stored: upper case, without the
// separators readers and people put in (":", "-", ".", "_", spaces), so
// "04:a3:1f" and "04A31F" are one card; 1-32 letters and digits remain.
// ok is false for anything else.
func normCard(c string) (string, bool) {
	if len(c) > 2*maxCardLen {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case ch >= '0' && ch <= '9', ch >= 'A' && ch <= 'Z':
			b.WriteByte(ch)
		case ch >= 'a' && ch <= 'z':
			b.WriteByte(ch - 'a' + 'A')
		case ch == ':', ch == '-', ch == '.', ch == '_', ch == ' ', ch == '\t':
		default:
			return "", false
		}
	}
	if b.Len() == 0 || b.Len() > maxCardLen {
		return "", false
	}
	return b.String(), true
}

// validPIN reports whether p is 4-8 digits.
func validPIN(p string) bool {
	if len(p) < 4 || len(p) > 8 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// checkIDList checks a list of ids for form and duplicates and returns it
// trimmed (never nil).
func checkIDList(ids []string, what string, maxN int) ([]string, error) {
	if len(ids) > maxN {
		return nil, invalidf("at most %d %ss", maxN, what)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if err := checkID(id, "a "+what+" id"); err != nil {
			return nil, err
		}
		if slices.Contains(out, id) {
			return nil, invalidf("%s %s is listed twice", what, id)
		}
		out = append(out, id)
	}
	return out, nil
}

func (v Site) normalize() (Site, error) {
	var err error
	if err = checkID(v.ID, "a site id"); err != nil {
		return v, err
	}
	if v.Name, err = cleanText(v.Name, "site name", true, maxNameRunes); err != nil {
		return v, err
	}
	v.TimeZone = strings.TrimSpace(v.TimeZone)
	if v.TimeZone != "" {
		if _, err := loadZone(v.TimeZone); err != nil {
			return v, invalidf("time zone %q is not a known IANA zone (such as Asia/Shanghai)", v.TimeZone)
		}
	}
	return v, nil
}

// loadZone loads an IANA zone; "Local" and "" are refused, since a site
// without a zone already follows the daemon's.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("bad zone")
	}
	return time.LoadLocation(name)
}

func (v Building) normalize() (Building, error) {
	var err error
	if err = checkID(v.ID, "a building id"); err != nil {
		return v, err
	}
	v.Site = strings.TrimSpace(v.Site)
	if err = checkID(v.Site, "the building's site"); err != nil {
		return v, err
	}
	v.Name, err = cleanText(v.Name, "building name", true, maxNameRunes)
	return v, err
}

func (v Floor) normalize() (Floor, error) {
	var err error
	if err = checkID(v.ID, "a floor id"); err != nil {
		return v, err
	}
	v.Building = strings.TrimSpace(v.Building)
	if err = checkID(v.Building, "the floor's building"); err != nil {
		return v, err
	}
	if v.Level < -20 || v.Level > 200 {
		return v, invalidf("a floor's level must be -20 to 200")
	}
	v.Plan = ""
	v.Name, err = cleanText(v.Name, "floor name", true, maxNameRunes)
	return v, err
}

func (v Placement) normalize() (Placement, error) {
	if v.Kind != PlaceDoor && v.Kind != PlaceCamera {
		return v, invalidf(`a placed device's kind must be "door" or "camera"`)
	}
	if err := checkID(v.Device, "a device id"); err != nil {
		return v, err
	}
	if err := checkID(v.Floor, "a floor id"); err != nil {
		return v, err
	}
	if math.IsNaN(v.X) || math.IsNaN(v.Y) || v.X < 0 || v.X > 1 || v.Y < 0 || v.Y > 1 {
		return v, invalidf("a position must be fractions 0 to 1 of the plan's width and height")
	}
	return v, nil
}

func (v Controller) normalize() (Controller, error) {
	var err error
	if err = checkID(v.ID, "a controller id"); err != nil {
		return v, err
	}
	if v.Name, err = cleanText(v.Name, "controller name", true, maxNameRunes); err != nil {
		return v, err
	}
	if v.HeartbeatSeconds == 0 {
		v.HeartbeatSeconds = defaultHeartbt
	}
	if v.HeartbeatSeconds < minHeartbeat || v.HeartbeatSeconds > maxHeartbeat {
		return v, invalidf("a heartbeat interval must be %d-%d seconds", minHeartbeat, maxHeartbeat)
	}
	switch v.FailMode = strings.ToLower(strings.TrimSpace(v.FailMode)); v.FailMode {
	case "":
		v.FailMode = FailSecure
	case FailSecure, FailSafe:
	default:
		return v, invalidf(`a fail mode must be "secure" or "safe"`)
	}
	return v, nil
}

func checkControllerPassword(p string) error {
	if len(p) < minPassword || len(p) > maxPassword {
		return invalidf("a controller password must be %d-%d bytes", minPassword, maxPassword)
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 || !utf8.ValidString(p) {
		return invalidf("a controller password must not contain control characters")
	}
	return nil
}

func (v Door) normalize() (Door, error) {
	var err error
	if err = checkID(v.ID, "a door id"); err != nil {
		return v, err
	}
	if v.Name, err = cleanText(v.Name, "door name", true, maxNameRunes); err != nil {
		return v, err
	}
	v.Floor, v.Controller = strings.TrimSpace(v.Floor), strings.TrimSpace(v.Controller)
	if err = checkID(v.Floor, "the door's floor"); err != nil {
		return v, err
	}
	if err = checkID(v.Controller, "the door's controller"); err != nil {
		return v, err
	}
	v.ReaderIn, v.ReaderOut = strings.TrimSpace(v.ReaderIn), strings.TrimSpace(v.ReaderOut)
	for _, r := range []string{v.ReaderIn, v.ReaderOut} {
		if r != "" {
			if err = checkID(r, "a reader id"); err != nil {
				return v, err
			}
		}
	}
	if v.ReaderIn != "" && v.ReaderIn == v.ReaderOut {
		return v, invalidf("the in and out readers must differ")
	}
	v.ReaderInPIN = v.ReaderInPIN && v.ReaderIn != ""
	v.ReaderOutPIN = v.ReaderOutPIN && v.ReaderOut != ""
	if v.UnlockSeconds == 0 {
		v.UnlockSeconds = defaultUnlock
	}
	if v.UnlockSeconds < 1 || v.UnlockSeconds > maxUnlockSecs {
		return v, invalidf("a door's unlock time must be 1-%d seconds", maxUnlockSecs)
	}
	if v.HeldOpenSeconds == 0 {
		v.HeldOpenSeconds = defaultHeldOpen
	}
	if v.HeldOpenSeconds < 1 || v.HeldOpenSeconds > maxHeldOpenSecs {
		return v, invalidf("a door's held-open time must be 1-%d seconds", maxHeldOpenSecs)
	}
	if v.Cameras, err = checkIDList(v.Cameras, "camera", maxCameras); err != nil {
		return v, err
	}
	v.Mode = strings.TrimSpace(v.Mode)
	v.Schedule = strings.TrimSpace(v.Schedule)
	switch v.Mode {
	case "":
		v.Mode = ModeControlled
	case ModeControlled, ModeLockedDown:
	case ModeUnlocked:
		if v.Schedule == "" {
			return v, invalidf("a door unlocked on schedule needs a schedule")
		}
	default:
		return v, invalidf(`a door's mode must be "controlled", "unlocked_schedule" or "locked_down"`)
	}
	if v.Mode != ModeUnlocked {
		v.Schedule = ""
	}
	if v.Schedule != "" {
		if err = checkID(v.Schedule, "a schedule id"); err != nil {
			return v, err
		}
	}
	v.StationExtension, v.StationDigit = strings.TrimSpace(v.StationExtension), strings.TrimSpace(v.StationDigit)
	if (v.StationExtension == "") != (v.StationDigit == "") {
		return v, invalidf("a door station needs both an extension and a digit")
	}
	if v.StationExtension != "" {
		if !validExtension(v.StationExtension) {
			return v, invalidf("a door station's extension must be 2-5 digits")
		}
		if len(v.StationDigit) != 1 || !strings.Contains("0123456789*#", v.StationDigit) {
			return v, invalidf("a door station's digit must be one of 0-9, * or #")
		}
	}
	return v, nil
}

// validExtension reports whether n is an extension number (2-5 digits).
func validExtension(n string) bool {
	if len(n) < 2 || len(n) > 5 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

func (v Cardholder) normalize() (Cardholder, error) {
	var err error
	v.ID = strings.TrimSpace(v.ID)
	if err = checkID(v.ID, "a cardholder id"); err != nil {
		return v, err
	}
	if v.Name, err = cleanText(v.Name, "cardholder name", true, maxNameRunes); err != nil {
		return v, err
	}
	if v.Department, err = cleanText(v.Department, "department", false, maxNameRunes); err != nil {
		return v, err
	}
	if len(v.Cards) > maxCards {
		return v, invalidf("a cardholder may have at most %d cards", maxCards)
	}
	cards := make([]string, 0, len(v.Cards))
	for _, c := range v.Cards {
		n, ok := normCard(c)
		if !ok {
			return v, invalidf("card number %q must be 1-%d letters and digits (separators : - . _ and spaces are ignored)", truncate(c, 40), maxCardLen)
		}
		if slices.Contains(cards, n) {
			return v, invalidf("card %s is listed twice", n)
		}
		cards = append(cards, n)
	}
	v.Cards = cards
	if !v.ValidFrom.IsZero() && !v.ValidUntil.IsZero() && !v.ValidUntil.After(v.ValidFrom) {
		return v, invalidf("valid until must be after valid from")
	}
	if !v.ValidFrom.IsZero() {
		v.ValidFrom = msTime(v.ValidFrom)
	}
	if !v.ValidUntil.IsZero() {
		v.ValidUntil = msTime(v.ValidUntil)
	}
	switch v.Status = strings.ToLower(strings.TrimSpace(v.Status)); v.Status {
	case "":
		v.Status = StatusActive
	case StatusActive, StatusDisabled:
	default:
		return v, invalidf(`a cardholder's status must be "active" or "disabled"`)
	}
	v.AccessLevels, err = checkIDList(v.AccessLevels, "access level", maxHolderLevels)
	return v, err
}

func (v AccessLevel) normalize() (AccessLevel, error) {
	var err error
	v.ID = strings.TrimSpace(v.ID)
	if err = checkID(v.ID, "an access level id"); err != nil {
		return v, err
	}
	if v.Name, err = cleanText(v.Name, "access level name", true, maxNameRunes); err != nil {
		return v, err
	}
	if len(v.Doors) > maxLevelDoors {
		return v, invalidf("an access level may have at most %d doors", maxLevelDoors)
	}
	doors := make([]LevelDoor, 0, len(v.Doors))
	seen := map[string]bool{}
	for _, d := range v.Doors {
		d.Door, d.Schedule = strings.TrimSpace(d.Door), strings.TrimSpace(d.Schedule)
		if err = checkID(d.Door, "a door id"); err != nil {
			return v, err
		}
		if d.Schedule != "" {
			if err = checkID(d.Schedule, "a schedule id"); err != nil {
				return v, err
			}
		}
		if seen[d.Door] {
			return v, invalidf("door %s is listed twice", d.Door)
		}
		seen[d.Door] = true
		doors = append(doors, d)
	}
	v.Doors = doors
	return v, nil
}

// dayNames are the window days; the index is the stored day (0 Sunday, as
// time.Weekday, and 7 for holidays).
var dayNames = [8]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat", "holiday"}

const holidayDay = 7

func parseDay(s string) (int, bool) {
	i := slices.Index(dayNames[:], strings.ToLower(strings.TrimSpace(s)))
	return i, i >= 0
}

// parseClock turns "HH:MM" into minutes after midnight; "24:00" is 1440.
func parseClock(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

func formatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

func (v Schedule) normalize() (Schedule, error) {
	var err error
	v.ID = strings.TrimSpace(v.ID)
	if err = checkID(v.ID, "a schedule id"); err != nil {
		return v, err
	}
	if v.Name, err = cleanText(v.Name, "schedule name", true, maxNameRunes); err != nil {
		return v, err
	}
	if len(v.Windows) > maxWindows {
		return v, invalidf("a schedule may have at most %d windows", maxWindows)
	}
	out := make([]Window, 0, len(v.Windows))
	for _, w := range v.Windows {
		day, ok := parseDay(w.Day)
		if !ok {
			return v, invalidf(`a window's day must be one of mon, tue, wed, thu, fri, sat, sun or holiday, not %q`, truncate(w.Day, 20))
		}
		start, ok1 := parseClock(w.Start)
		end, ok2 := parseClock(w.End)
		if !ok1 || !ok2 || start >= 1440 {
			return v, invalidf(`a window's start and end must be times "HH:MM" (end may be "24:00")`)
		}
		if end <= start {
			return v, invalidf("a window must end after it starts (%s %s-%s)", dayNames[day], w.Start, w.End)
		}
		out = append(out, Window{Day: dayNames[day], Start: formatClock(start), End: formatClock(end)})
	}
	v.Windows = out
	return v, nil
}

func (v Holiday) normalize() (Holiday, error) {
	v.Date = strings.TrimSpace(v.Date)
	if t, err := time.Parse(time.DateOnly, v.Date); err != nil || t.Format(time.DateOnly) != v.Date {
		return v, invalidf("a holiday's date must be YYYY-MM-DD")
	}
	var err error
	v.Name, err = cleanText(v.Name, "holiday name", false, maxNameRunes)
	return v, err
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
