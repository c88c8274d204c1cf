package building

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapshot is every configuration list of a Service.
type snapshot struct {
	Sites       []Site
	Buildings   []Building
	Floors      []Floor
	Placements  []Placement
	Controllers []Controller
	Doors       []Door
	Schedules   []Schedule
	Holidays    []Holiday
	Levels      []AccessLevel
	Holders     []Cardholder
}

func snap(s *Service) snapshot {
	var p []Placement
	for _, f := range s.Floors() {
		p = append(p, s.Placements(f.ID)...)
	}
	return snapshot{s.Sites(), s.Buildings(), s.Floors(), p, s.ListControllers(), s.ListDoors(), s.Schedules(),
		s.Holidays(), s.AccessLevels(), s.Cardholders()}
}

// checkRoundTrip compares s with a Service freshly loaded from the store.
func checkRoundTrip(t *testing.T, e *testEnv) snapshot {
	t.Helper()
	before, after := snap(e.s), snap(e.reopen(t))
	if !reflect.DeepEqual(before, after) {
		t.Errorf("after reload from the store:\n%+v\nwant\n%+v", after, before)
	}
	return before
}

func TestModelRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	s := e.s
	if _, err := s.SetHoliday(ctx, Holiday{Date: "2026-10-01", Name: "National Day"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Place(ctx, Placement{Floor: "f1", Kind: PlaceDoor, Device: "east", X: 0.25, Y: 0.5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Place(ctx, Placement{Floor: "f2", Kind: PlaceCamera, Device: "cam-east", X: 1, Y: 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("placing a camera that does not exist: %v", err)
	}
	// The camera, as building/cameras stores it.
	if _, err := e.db.ExecContext(ctx, `INSERT INTO cameras (id, name, created_at, updated_at) VALUES ('cam-east', 'East', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Place(ctx, Placement{Floor: "f2", Kind: PlaceCamera, Device: "cam-east", X: 1, Y: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetFloorPlan(ctx, "f2", testPNG(t, 4, 4)); err != nil {
		t.Fatal(err)
	}
	got := checkRoundTrip(t, e)

	// What was created reads back as created, defaults filled in.
	wantDoor := Door{ID: "east", Name: "East entrance", Floor: "f1", Controller: "c1", ReaderIn: "r1", ReaderOut: "r2",
		UnlockSeconds: 5, HeldOpenSeconds: 20, Cameras: []string{"cam-east"}, Mode: ModeControlled}
	if !reflect.DeepEqual(got.Doors[0], wantDoor) {
		t.Errorf("door %+v\nwant %+v", got.Doors[0], wantDoor)
	}
	if c := got.Controllers[0]; c != (Controller{ID: "c1", Name: "Controller 1", HeartbeatSeconds: 10, FailMode: FailSecure}) {
		t.Errorf("controller %+v", c)
	}
	alice := got.Holders[0]
	if alice.ID != "alice" || !alice.HasPIN || !reflect.DeepEqual(alice.Cards, []string{"A1"}) ||
		!reflect.DeepEqual(alice.AccessLevels, []string{"lab", "staff"}) || alice.Status != StatusActive {
		t.Errorf("alice %+v", alice)
	}
	if carol := got.Holders[2]; !carol.ValidUntil.Equal(wednesday10.Add(-time.Hour)) || !carol.ValidFrom.IsZero() {
		t.Errorf("carol %+v", carol)
	}
	if sc := got.Schedules[0]; len(sc.Windows) != 6 || sc.Windows[0] != (Window{"mon", "08:00", "18:00"}) || sc.Windows[5].Day != "holiday" {
		t.Errorf("schedule %+v", sc)
	}
	if f := got.Floors[1]; f.ID != "f2" || f.Plan != PlanPNG || f.Level != 1 {
		t.Errorf("floor %+v", f)
	}
	wantPlaces := []Placement{{Floor: "f1", Kind: PlaceDoor, Device: "east", X: 0.25, Y: 0.5}, {Floor: "f2", Kind: PlaceCamera, Device: "cam-east", X: 1}}
	if !reflect.DeepEqual(got.Placements, wantPlaces) {
		t.Errorf("placements %+v", got.Placements)
	}

	// Updates.
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.UpdateSite(ctx, "hq", Site{Name: "HQ", TimeZone: "Europe/Berlin", AntiPassback: true}))
	must(s.UpdateBuilding(ctx, "main", Building{Site: "hq", Name: "Main"}))
	must(s.UpdateFloor(ctx, "f2", Floor{Building: "main", Name: "Upstairs", Level: 2}))
	must(s.UpdateController(ctx, "c1", ControllerInput{Controller: Controller{Name: "Lobby controller", HeartbeatSeconds: 60, FailMode: FailSafe}}))
	if !s.Authenticate("c1", ctrlPassword) {
		t.Error("an update without a password changed it")
	}
	must(s.UpdateSchedule(ctx, "office", Schedule{Name: "Short day", Windows: []Window{{"MON", "09:00", "12:00"}}}))
	d := got.Doors[0]
	d.Floor, d.Name, d.Cameras, d.Mode, d.Schedule, d.ReaderOutPIN = "f2", "East door", []string{"cam-2", "cam-1"}, ModeUnlocked, "office", true
	must(s.UpdateDoor(ctx, "east", d))
	must(s.UpdateAccessLevel(ctx, "staff", AccessLevel{Name: "All staff", Doors: []LevelDoor{{Door: "west"}}}))
	must(s.UpdateCardholder(ctx, "alice", CardholderInput{Cardholder: Cardholder{Name: "Alice W", Cards: []string{"A2", "A3"}, Responder: true, AccessLevels: []string{"staff"}}}))
	must(s.UpdateCardholder(ctx, "bob", CardholderInput{Cardholder: Cardholder{Name: "Bob", Cards: []string{"A1"}}, ClearPIN: true}))
	got = checkRoundTrip(t, e)
	if got.Sites[0] != (Site{ID: "hq", Name: "HQ", TimeZone: "Europe/Berlin", AntiPassback: true}) {
		t.Errorf("site %+v", got.Sites[0])
	}
	if d := got.Doors[0]; d.Floor != "f2" || !reflect.DeepEqual(d.Cameras, []string{"cam-2", "cam-1"}) || d.Schedule != "office" || !d.ReaderOutPIN {
		t.Errorf("door %+v", d)
	}
	if len(got.Placements) != 1 {
		t.Errorf("the door kept its placement on its old floor: %+v", got.Placements)
	}
	if a := got.Holders[0]; !a.HasPIN || !a.Responder || !reflect.DeepEqual(a.Cards, []string{"A2", "A3"}) {
		t.Errorf("alice %+v", a)
	}
	if b := got.Holders[1]; b.HasPIN || !reflect.DeepEqual(b.Cards, []string{"A1"}) || b.Status != StatusActive {
		t.Errorf("bob %+v", b)
	}
	if sc := got.Schedules[0]; sc.Name != "Short day" || !reflect.DeepEqual(sc.Windows, []Window{{"mon", "09:00", "12:00"}}) {
		t.Errorf("schedule %+v", sc)
	}
	// Card A1 now opens as Bob's.
	if dec, _ := e.swipe("r3", "A1", ""); dec.Cardholder != "bob" {
		t.Errorf("A1 swiped: %+v", dec)
	}

	// Deletes, with what still uses a row refused first.
	wantErr(t, "delete site with buildings", s.DeleteSite(ctx, "hq"), ErrConflict)
	wantErr(t, "delete building with floors", s.DeleteBuilding(ctx, "main"), ErrConflict)
	wantErr(t, "delete floor with doors", s.DeleteFloor(ctx, "f1"), ErrConflict)
	wantErr(t, "delete controller with doors", s.DeleteController(ctx, "c1"), ErrConflict)
	wantErr(t, "delete schedule in use", s.DeleteSchedule(ctx, "office"), ErrConflict)
	for _, id := range []string{"alice", "bob", "carol", "dan", "rita", "nina"} {
		if err := s.DeleteCardholder(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"staff", "lab"} {
		if err := s.DeleteAccessLevel(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"east", "west", "lab"} {
		if err := s.DeleteDoor(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range []error{
		s.DeleteSchedule(ctx, "office"), s.DeleteController(ctx, "c1"), s.DeleteHoliday(ctx, "2026-10-01"),
		s.Unplace(ctx, PlaceCamera, "cam-east"), s.DeleteFloor(ctx, "f1"), s.DeleteFloor(ctx, "f2"),
		s.DeleteBuilding(ctx, "main"), s.DeleteSite(ctx, "hq"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := checkRoundTrip(t, e); !reflect.DeepEqual(got, snapshot{
		Sites: []Site{}, Buildings: []Building{}, Floors: []Floor{}, Controllers: []Controller{}, Doors: []Door{},
		Schedules: []Schedule{}, Holidays: []Holiday{}, Levels: []AccessLevel{}, Holders: []Cardholder{},
	}) {
		t.Errorf("after deleting everything: %+v", got)
	}
	wantErr(t, "delete again", s.DeleteDoor(ctx, "east"), ErrNotFound)
	if kinds := e.bus.kinds(TopicDoors); !slices.Contains(kinds, KindDoorRemoved) {
		t.Errorf("door events %v, want %s among them", kinds, KindDoorRemoved)
	}
}

func TestModelRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	s := e.s
	long := strings.Repeat("x", 65)
	door := func(mod func(*Door)) error {
		d := Door{ID: "d9", Name: "D9", Floor: "f1", Controller: "c1"}
		mod(&d)
		_, err := s.CreateDoor(ctx, d)
		return err
	}
	holder := func(mod func(*CardholderInput)) error {
		in := CardholderInput{Cardholder: Cardholder{ID: "h9", Name: "H9"}}
		mod(&in)
		_, err := s.CreateCardholder(ctx, in)
		return err
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"site id taken", func() error { _, err := s.CreateSite(ctx, Site{ID: "hq", Name: "x"}); return err }(), ErrExists},
		{"site id with a space", func() error { _, err := s.CreateSite(ctx, Site{ID: "a b", Name: "x"}); return err }(), ErrInvalid},
		{"site without name", func() error { _, err := s.CreateSite(ctx, Site{ID: "s2"}); return err }(), ErrInvalid},
		{"site name too long", func() error { _, err := s.CreateSite(ctx, Site{ID: "s2", Name: long}); return err }(), ErrInvalid},
		{"site bad zone", func() error {
			_, err := s.CreateSite(ctx, Site{ID: "s2", Name: "x", TimeZone: "Mars/Base"})
			return err
		}(), ErrInvalid},
		{"site id change", func() error { _, err := s.UpdateSite(ctx, "hq", Site{ID: "hq2", Name: "x"}); return err }(), ErrInvalid},
		{"unknown site update", func() error { _, err := s.UpdateSite(ctx, "nope", Site{Name: "x"}); return err }(), ErrNotFound},
		{"building on unknown site", func() error { _, err := s.CreateBuilding(ctx, Building{ID: "b2", Site: "nope", Name: "x"}); return err }(), ErrInvalid},
		{"floor in unknown building", func() error { _, err := s.CreateFloor(ctx, Floor{ID: "f9", Building: "nope", Name: "x"}); return err }(), ErrInvalid},
		{"floor level", func() error {
			_, err := s.CreateFloor(ctx, Floor{ID: "f9", Building: "main", Name: "x", Level: 999})
			return err
		}(), ErrInvalid},
		{"controller short password", func() error {
			_, err := s.CreateController(ctx, ControllerInput{Controller: Controller{ID: "c2", Name: "x"}, Password: "short"})
			return err
		}(), ErrInvalid},
		{"controller heartbeat", func() error {
			_, err := s.CreateController(ctx, ControllerInput{Controller: Controller{ID: "c2", Name: "x", HeartbeatSeconds: 1}, Password: ctrlPassword})
			return err
		}(), ErrInvalid},
		{"controller fail mode", func() error {
			_, err := s.CreateController(ctx, ControllerInput{Controller: Controller{ID: "c2", Name: "x", FailMode: "open"}, Password: ctrlPassword})
			return err
		}(), ErrInvalid},
		{"door id taken", door(func(d *Door) { d.ID = "east" }), ErrExists},
		{"door on unknown floor", door(func(d *Door) { d.Floor = "f9" }), ErrInvalid},
		{"door on unknown controller", door(func(d *Door) { d.Controller = "c9" }), ErrInvalid},
		{"reader of another door", door(func(d *Door) { d.ReaderOut = "r1" }), ErrConflict},
		{"same reader twice", door(func(d *Door) { d.ReaderIn, d.ReaderOut = "r8", "r8" }), ErrInvalid},
		{"unlock time", door(func(d *Door) { d.UnlockSeconds = 301 }), ErrInvalid},
		{"held-open time", door(func(d *Door) { d.HeldOpenSeconds = -1 }), ErrInvalid},
		{"mode", door(func(d *Door) { d.Mode = "open" }), ErrInvalid},
		{"schedule mode without schedule", door(func(d *Door) { d.Mode = ModeUnlocked }), ErrInvalid},
		{"unknown schedule", door(func(d *Door) { d.Mode, d.Schedule = ModeUnlocked, "nope" }), ErrInvalid},
		{"camera listed twice", door(func(d *Door) { d.Cameras = []string{"a", "a"} }), ErrInvalid},
		{"card taken", holder(func(in *CardholderInput) { in.Cards = []string{"a1"} }), ErrExists},
		{"card malformed", holder(func(in *CardholderInput) { in.Cards = []string{"12/34"} }), ErrInvalid},
		{"card taken in another spelling", holder(func(in *CardholderInput) { in.Cards = []string{"a-1"} }), ErrExists},
		{"card twice", holder(func(in *CardholderInput) { in.Cards = []string{"X1", "x:1"} }), ErrInvalid},
		{"PIN letters", holder(func(in *CardholderInput) { in.PIN = "12ab" }), ErrInvalid},
		{"PIN short", holder(func(in *CardholderInput) { in.PIN = "123" }), ErrInvalid},
		{"validity backwards", holder(func(in *CardholderInput) {
			in.ValidFrom, in.ValidUntil = wednesday10, wednesday10.Add(-time.Hour)
		}), ErrInvalid},
		{"status", holder(func(in *CardholderInput) { in.Status = "gone" }), ErrInvalid},
		{"unknown access level", holder(func(in *CardholderInput) { in.AccessLevels = []string{"nope"} }), ErrInvalid},
		{"name with control characters", holder(func(in *CardholderInput) { in.Name = "a\x1bb" }), ErrInvalid},
		{"level with unknown door", func() error {
			_, err := s.CreateAccessLevel(ctx, AccessLevel{Name: "x", Doors: []LevelDoor{{Door: "nope"}}})
			return err
		}(), ErrInvalid},
		{"level with door twice", func() error {
			_, err := s.CreateAccessLevel(ctx, AccessLevel{Name: "x", Doors: []LevelDoor{{Door: "east"}, {Door: "east"}}})
			return err
		}(), ErrInvalid},
		{"window backwards", func() error {
			_, err := s.CreateSchedule(ctx, Schedule{Name: "x", Windows: []Window{{"mon", "18:00", "08:00"}}})
			return err
		}(), ErrInvalid},
		{"window day", func() error {
			_, err := s.CreateSchedule(ctx, Schedule{Name: "x", Windows: []Window{{"someday", "08:00", "09:00"}}})
			return err
		}(), ErrInvalid},
		{"window time", func() error {
			_, err := s.CreateSchedule(ctx, Schedule{Name: "x", Windows: []Window{{"mon", "8am", "09:00"}}})
			return err
		}(), ErrInvalid},
		{"holiday date", func() error { _, err := s.SetHoliday(ctx, Holiday{Date: "2026-02-30"}); return err }(), ErrInvalid},
		{"placement outside the plan", func() error {
			_, err := s.Place(ctx, Placement{Floor: "f1", Kind: PlaceDoor, Device: "east", X: 1.5})
			return err
		}(), ErrInvalid},
		{"door placed on another floor", func() error {
			_, err := s.Place(ctx, Placement{Floor: "f2", Kind: PlaceDoor, Device: "east", X: 0.5})
			return err
		}(), ErrInvalid},
		{"placement kind", func() error {
			_, err := s.Place(ctx, Placement{Floor: "f1", Kind: "lamp", Device: "x"})
			return err
		}(), ErrInvalid},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, tt.err, tt.want)
	}
	checkRoundTrip(t, e)
	if n := len(s.ListDoors()); n != 3 {
		t.Errorf("%d doors after refused creates, want 3", n)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	tests := []struct {
		controller, password string
		want                 bool
	}{
		{"c1", ctrlPassword, true},
		{"c1", ctrlPassword + "x", false},
		{"c1", "", false},
		{"c2", ctrlPassword, false},
	}
	for _, tt := range tests {
		if got := e.s.Authenticate(tt.controller, tt.password); got != tt.want {
			t.Errorf("Authenticate(%s, %q) = %v, want %v", tt.controller, tt.password, got, tt.want)
		}
	}
	if _, err := e.s.UpdateController(ctx, "c1", ControllerInput{Controller: Controller{Name: "c1"}, Password: "a-new-password"}); err != nil {
		t.Fatal(err)
	}
	if e.s.Authenticate("c1", ctrlPassword) || !e.s.Authenticate("c1", "a-new-password") {
		t.Error("the new password did not replace the old one")
	}
	var hash string
	if err := e.db.QueryRow(`SELECT password_hash FROM building_controllers WHERE id = 'c1'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2") || strings.Contains(hash, "a-new-password") {
		t.Errorf("stored password %q is not a bcrypt hash", hash)
	}
}

// TestImportCardholders: an import creates and updates in one go, keeps a
// PIN it is not given, and refuses everything when one input is bad.
func TestImportCardholders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	s := e.s
	if _, err := s.CreateCardholder(ctx, CardholderInput{Cardholder: Cardholder{ID: "old", Name: "Old", Cards: []string{"C100"}}, PIN: "4821"}); err != nil {
		t.Fatal(err)
	}
	in := []CardholderInput{
		{Cardholder: Cardholder{ID: "old", Name: "Old Renamed", Cards: []string{"C100"}}},
		{Cardholder: Cardholder{ID: "n1", Name: "New One", Cards: []string{"C101"}}},
		{Cardholder: Cardholder{ID: "n2", Name: "New Two", Cards: []string{"C102"}}},
	}
	created, updated, err := s.ImportCardholders(ctx, in)
	if err != nil || created != 2 || updated != 1 {
		t.Fatalf("import: %d created, %d updated, %v; want 2, 1", created, updated, err)
	}
	old, err := s.Cardholder("old")
	if err != nil || old.Name != "Old Renamed" || !old.HasPIN {
		t.Fatalf("old after the import: %+v, %v; want renamed with its PIN kept", old, err)
	}
	if h, err := s.Cardholder("n2"); err != nil || len(h.Cards) != 1 {
		t.Fatalf("n2: %+v, %v", h, err)
	}

	bad := []CardholderInput{
		{Cardholder: Cardholder{ID: "n3", Name: "Fine", Cards: []string{"C103"}}},
		{Cardholder: Cardholder{ID: "n4", Name: ""}},
	}
	if _, _, err := s.ImportCardholders(ctx, bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "cardholder 2") {
		t.Fatalf("a bad second input: %v, want invalid naming cardholder 2", err)
	}
	if _, err := s.Cardholder("n3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("n3 was written though the import was refused: %v", err)
	}
	dup := []CardholderInput{{Cardholder: Cardholder{ID: "x", Name: "X"}}, {Cardholder: Cardholder{ID: "x", Name: "Y"}}}
	if _, _, err := s.ImportCardholders(ctx, dup); !errors.Is(err, ErrInvalid) {
		t.Fatalf("duplicate ids: %v, want invalid", err)
	}
	if _, _, err := s.ImportCardholders(ctx, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty import: %v, want invalid", err)
	}
}

// TestFloorEvents: placing, moving and removing a device, and uploading
// or deleting a plan, each announce the floor with its placements.
func TestFloorEvents(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	s := e.s
	floorEvents := func() []FloorEvent {
		e.bus.mu.Lock()
		defer e.bus.mu.Unlock()
		var out []FloorEvent
		for _, p := range e.bus.evs {
			if f, ok := p.(FloorEvent); ok {
				out = append(out, f)
			}
		}
		return out
	}
	before := len(floorEvents())
	if _, err := s.Place(ctx, Placement{Floor: "f1", Kind: PlaceDoor, Device: "east", X: 0.3, Y: 0.4}); err != nil {
		t.Fatal(err)
	}
	evs := floorEvents()
	if len(evs) != before+1 {
		t.Fatalf("%d floor events after a placement, want %d", len(evs), before+1)
	}
	last := evs[len(evs)-1]
	found := false
	for _, p := range last.Placements {
		found = found || p.Device == "east" && p.X == 0.3 && p.Y == 0.4
	}
	if last.Floor.ID != "f1" || !found || last.EventKind() != KindFloorChanged {
		t.Fatalf("event %+v: want floor f1 with east at 0.3,0.4", last)
	}
	if err := s.Unplace(ctx, PlaceDoor, "east"); err != nil {
		t.Fatal(err)
	}
	evs = floorEvents()
	for _, p := range evs[len(evs)-1].Placements {
		if p.Device == "east" {
			t.Fatalf("east still placed in %+v", evs[len(evs)-1])
		}
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)
	if _, err := s.SetFloorPlan(ctx, "f1", svg); err != nil {
		t.Fatal(err)
	}
	if evs = floorEvents(); evs[len(evs)-1].Floor.Plan != "image/svg+xml" {
		t.Fatalf("after the upload: %+v", evs[len(evs)-1])
	}
	if err := s.DeleteFloorPlan(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if evs = floorEvents(); evs[len(evs)-1].Floor.Plan != "" {
		t.Fatalf("after the delete: %+v", evs[len(evs)-1])
	}
}
