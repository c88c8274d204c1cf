package building

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "time/tzdata" // the tests' Asia/Shanghai does not depend on the host

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"civic/internal/audit"
	"civic/internal/events"
	"civic/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shanghai is the sites' zone in the tests.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// wednesday10 is Wednesday 4 March 2026, 10:00 in Shanghai: inside office
// hours.
var wednesday10 = time.Date(2026, 3, 4, 10, 0, 0, 0, shanghai)

// clock is the injected clock; tests move it by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// recorder is a Publisher that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []events.Payload
}

func (r *recorder) Publish(p events.Payload) {
	r.mu.Lock()
	r.evs = append(r.evs, p)
	r.mu.Unlock()
}

// alarmEvents returns the alarm events of an alarm kind.
func (r *recorder) alarmEvents(kind string) []AlarmEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AlarmEvent
	for _, p := range r.evs {
		if e, ok := p.(AlarmEvent); ok && e.Alarm.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// kinds returns the event kinds published on a topic, in order.
func (r *recorder) kinds(topic events.Topic) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.evs {
		if p.EventTopic() == topic {
			out = append(out, p.EventKind())
		}
	}
	return out
}

// accessEvents returns the access events published.
func (r *recorder) accessEvents() []AccessEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AccessEvent
	for _, p := range r.evs {
		if e, ok := p.(AccessEvent); ok {
			out = append(out, e)
		}
	}
	return out
}

// lastDoor returns the last published state of a door.
func (r *recorder) lastDoor(id string) (DoorStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.evs) - 1; i >= 0; i-- {
		if e, ok := r.evs[i].(DoorEvent); ok && e.Door.ID == id {
			return e.Door, true
		}
	}
	return DoorStatus{}, false
}

// sentCommand is a command a recordingCommander was given.
type sentCommand struct {
	controller string
	cmd        Command
}

// recordingCommander keeps the commands it is asked to send.
type recordingCommander struct {
	mu   sync.Mutex
	sent []sentCommand
	err  error // returned by Send when set
}

func (c *recordingCommander) Send(_ context.Context, controller string, cmd Command) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.sent = append(c.sent, sentCommand{controller, cmd})
	return nil
}

func (c *recordingCommander) all() []sentCommand {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

func (c *recordingCommander) last(t *testing.T) sentCommand {
	t.Helper()
	all := c.all()
	if len(all) == 0 {
		t.Fatal("no command was sent")
	}
	return all[len(all)-1]
}

// testEnv is a Service on a fresh store with a manual clock.
type testEnv struct {
	s     *Service
	db    *sql.DB
	clk   *clock
	bus   *recorder
	audit *audit.Log
	cmd   *recordingCommander
	msgN  int
}

// newEnv builds a Service; mods may change the config.
func newEnv(t testing.TB, mods ...func(*Config)) *testEnv {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := store.Open(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The clock reads UTC, so a schedule read in anything but the site's
	// zone fails.
	e := &testEnv{db: st.DB(), clk: &clock{t: wednesday10.UTC()}, bus: &recorder{}, cmd: &recordingCommander{}}
	e.audit = audit.New(st.DB(), nil)
	cfg := Config{Now: e.clk.Now, BcryptCost: bcrypt.MinCost, Commander: e.cmd, Location: time.UTC}
	for _, m := range mods {
		m(&cfg)
	}
	e.s, err = New(cfg, st.DB(), e.bus, e.audit, logger.With("module", "building"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// reopen builds a second Service on the same store, as after a restart.
func (e *testEnv) reopen(t testing.TB) *Service {
	t.Helper()
	s, err := New(Config{Now: e.clk.Now, BcryptCost: bcrypt.MinCost, Location: time.UTC}, e.db, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const ctrlPassword = "controller-secret-1"

// Actors.
var (
	admin      = Actor{User: "root", Role: "admin", Source: "127.0.0.1"}
	facilities = Actor{User: "fang", Role: "facilities", Source: "127.0.0.1"}
	official   = Actor{User: "li", Role: "official", Source: "127.0.0.1"}
)

// seed creates the test building:
//
//   - site hq (Asia/Shanghai), building main, floors f1 and f2;
//   - controller c1 (heartbeat 10 s);
//   - schedule office: Monday to Friday 08:00-18:00, holidays 09:00-12:00;
//   - doors: east (f1, readers r1 in / r2 out), west (f2, reader r3 in),
//     lab (f1, reader r5 in, PIN);
//   - access levels: staff (east always, west office hours), lab (lab);
//   - cardholders: alice A1 (staff, lab, PIN 1234), bob B1 (staff,
//     disabled), carol C1 (staff, expired), dan D1 (staff, not yet
//     valid), rita R1 (staff, responder), nina N1 (no levels).
func (e *testEnv) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	s := e.s
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateSite(ctx, Site{ID: "hq", Name: "Headquarters", TimeZone: "Asia/Shanghai"}))
	must(s.CreateBuilding(ctx, Building{ID: "main", Site: "hq", Name: "Main building"}))
	must(s.CreateFloor(ctx, Floor{ID: "f1", Building: "main", Name: "Ground floor"}))
	must(s.CreateFloor(ctx, Floor{ID: "f2", Building: "main", Name: "First floor", Level: 1}))
	must(s.CreateController(ctx, ControllerInput{Controller: Controller{ID: "c1", Name: "Controller 1", HeartbeatSeconds: 10}, Password: ctrlPassword}))
	var office []Window
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		office = append(office, Window{Day: d, Start: "08:00", End: "18:00"})
	}
	office = append(office, Window{Day: "holiday", Start: "09:00", End: "12:00"})
	must(s.CreateSchedule(ctx, Schedule{ID: "office", Name: "Office hours", Windows: office}))
	must(s.CreateDoor(ctx, Door{ID: "east", Name: "East entrance", Floor: "f1", Controller: "c1", ReaderIn: "r1", ReaderOut: "r2", HeldOpenSeconds: 20, Cameras: []string{"cam-east"}}))
	must(s.CreateDoor(ctx, Door{ID: "west", Name: "West stairs", Floor: "f2", Controller: "c1", ReaderIn: "r3"}))
	must(s.CreateDoor(ctx, Door{ID: "lab", Name: "Lab", Floor: "f1", Controller: "c1", ReaderIn: "r5", ReaderInPIN: true}))
	must(s.CreateAccessLevel(ctx, AccessLevel{ID: "staff", Name: "Staff", Doors: []LevelDoor{{Door: "east"}, {Door: "west", Schedule: "office"}}}))
	must(s.CreateAccessLevel(ctx, AccessLevel{ID: "lab", Name: "Lab", Doors: []LevelDoor{{Door: "lab"}}}))
	holders := []CardholderInput{
		{Cardholder: Cardholder{ID: "alice", Name: "Alice", Cards: []string{"a1"}, AccessLevels: []string{"staff", "lab"}}, PIN: "1234"},
		{Cardholder: Cardholder{ID: "bob", Name: "Bob", Cards: []string{"B1"}, AccessLevels: []string{"staff"}, Status: StatusDisabled}},
		{Cardholder: Cardholder{ID: "carol", Name: "Carol", Cards: []string{"C1"}, AccessLevels: []string{"staff"}, ValidUntil: wednesday10.Add(-time.Hour)}},
		{Cardholder: Cardholder{ID: "dan", Name: "Dan", Cards: []string{"D1"}, AccessLevels: []string{"staff"}, ValidFrom: wednesday10.Add(24 * time.Hour)}},
		{Cardholder: Cardholder{ID: "rita", Name: "Rita", Cards: []string{"R1"}, AccessLevels: []string{"staff"}, Responder: true}},
		{Cardholder: Cardholder{ID: "nina", Name: "Nina", Cards: []string{"N1"}}},
	}
	for _, h := range holders {
		must(s.CreateCardholder(ctx, h))
	}
}

// nextMsg returns a fresh message id.
func (e *testEnv) nextMsg() string {
	e.msgN++
	return fmt.Sprintf("m%d", e.msgN)
}

// swipe presents a card at a reader of c1, now.
func (e *testEnv) swipe(reader, card, pin string) (Decision, error) {
	return e.s.Swipe(context.Background(), Swipe{Controller: "c1", Reader: reader, Card: card, PIN: pin, MsgID: e.nextMsg(), At: e.clk.Now()})
}

// heartbeat sends a heartbeat of c1, now.
func (e *testEnv) heartbeat(t testing.TB) {
	t.Helper()
	if err := e.s.Heartbeat(context.Background(), "c1", e.nextMsg(), e.clk.Now()); err != nil {
		t.Fatal(err)
	}
}

// settle runs the timers once (a controller that came online gets its
// doors' modes) and acknowledges every command sent so far.
func (e *testEnv) settle(t testing.TB) {
	t.Helper()
	e.s.tick(e.clk.Now())
	for _, c := range e.cmd.all() {
		_ = e.s.CommandAcked(context.Background(), Ack{Controller: c.controller, CommandID: c.cmd.ID, OK: true})
	}
}

// report sends a door report of c1, now.
func (e *testEnv) report(t testing.TB, r DoorReport) {
	t.Helper()
	r.Controller, r.MsgID, r.At = "c1", e.nextMsg(), e.clk.Now()
	if err := e.s.DoorState(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// tick advances the clock and runs the timers.
func (e *testEnv) tick(d time.Duration) {
	e.s.tick(e.clk.Advance(d))
}

// auditRows returns the audit entries whose action starts with prefix
// ("building.alarm_"), oldest first.
func (e *testEnv) auditRows(t testing.TB, prefix string) []audit.Entry {
	t.Helper()
	rows, _, err := e.audit.List(context.Background(), audit.Filter{Action: "building.", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(rows)
	return slices.DeleteFunc(rows, func(r audit.Entry) bool { return !strings.HasPrefix(r.Action, prefix) })
}

// openAlarm returns the open alarm of a kind, failing when there is not
// exactly one.
func (e *testEnv) openAlarm(t testing.TB, kind string) Alarm {
	t.Helper()
	var found []Alarm
	for _, a := range e.s.Alarms() {
		if a.Kind == kind {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("open %s alarms: %+v, want exactly one", kind, found)
	}
	return found[0]
}

// hasOpen reports whether an alarm of a kind is open.
func (e *testEnv) hasOpen(kind string) bool {
	return slices.ContainsFunc(e.s.Alarms(), func(a Alarm) bool { return a.Kind == kind })
}

// wantErr fails unless err wraps want.
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}
