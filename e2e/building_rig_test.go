package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"civic/building/mqttlink/simtest"
	"civic/conference/confclient"
)

// The Building page against the real daemon, its embedded MQTT broker and
// the building simulator (cmd/civicsim) as a separate process that logs in
// as door controller c1. The model is set up over the console websocket
// as the admin; what the tests check happens in Chromium.

// rigController is the simulated door controller.
const rigController = "c1"

// rigCard is the card of the cardholder the rig creates.
const rigCard = "04A31F22"

// Door colours of the plan (css/building.css), as getComputedStyle gives
// an SVG fill.
const (
	fillLocked   = "rgb(22, 121, 74)"
	fillUnlocked = "rgb(37, 99, 235)"
	fillOpen     = "rgb(217, 119, 6)"
)

// alarmDeadline is how soon a forced door must show in a subscribed
// browser (issue 5: within 1 s).
const alarmDeadline = time.Second

// offlineTimeout bounds the wait for a controller to count as offline:
// three missed 5 s heartbeats, plus the page.
const offlineTimeout = timeScale * 45 * time.Second

// rigDoor is one door the rig sets up in civicd and in the simulator.
type rigDoor struct {
	ID, Name        string
	UnlockSeconds   int
	HeldOpenSeconds int
	// Station and StationDigit make the door a door station's: a call
	// from extension Station opens it when the answering phone presses
	// StationDigit.
	Station, StationDigit string
}

// buildingRig is a daemon with the MQTT broker on, a building model, the
// simulator connected as c1, and a browser.
type buildingRig struct {
	d       *daemon
	api     *confclient.Client
	sim     *simtest.Sim
	browser context.Context
	shots   shooter
}

// newBuildingRig starts everything: civicd with its broker on a free
// loopback port (read from the "mqtt broker listening" log line), the
// model (site hq, building main, floor f1, controller c1 with the doors,
// a cardholder with card rigCard allowed through every door), and
// civicsim logged in as c1.
func newBuildingRig(t *testing.T, doors []rigDoor, env ...string) *buildingRig {
	t.Helper()
	browser := newBrowser(t)
	simBin, err := simtest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, daemonConfig{Env: append([]string{"CIVIC_MQTT_LISTEN=127.0.0.1:0"}, env...)})
	broker := d.logField(t, "mqtt broker listening", "addr")
	if !strings.HasPrefix(broker, "127.0.0.1:") {
		t.Fatalf("the broker listens on %q, want loopback", broker)
	}
	t.Logf("civicd MQTT broker at %s", broker)
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	r := &buildingRig{d: d, api: goClients(ctx, t, d)(), browser: browser, shots: newShooter(t)}

	password := "ctrl-" + rand.Text()[:16]
	r.call(t, "building.sites.create", map[string]any{"site": map[string]any{"id": "hq", "name": "市政中心 Civic Center", "time_zone": "Asia/Shanghai"}}, nil)
	r.call(t, "building.buildings.create", map[string]any{"building": map[string]any{"id": "main", "site": "hq", "name": "主楼 Main"}}, nil)
	r.call(t, "building.floors.create", map[string]any{"floor": map[string]any{"id": "f1", "building": "main", "name": "一层 Ground", "level": 0}}, nil)
	r.call(t, "building.controllers.create", map[string]any{"controller": map[string]any{"id": rigController, "name": "东区控制器 East panel", "heartbeat_seconds": 5, "password": password}}, nil)
	var sim strings.Builder
	fmt.Fprintf(&sim, "heartbeat: 5s\ncontrollers:\n  - id: %s\n    password: %q\n    doors:\n", rigController, password)
	var levelDoors []map[string]any
	for _, dr := range doors {
		door := map[string]any{
			"id": dr.ID, "name": dr.Name, "floor": "f1", "controller": rigController,
			"reader_in": dr.ID + "-in", "reader_out": dr.ID + "-out",
			"unlock_seconds": dr.UnlockSeconds, "held_open_seconds": dr.HeldOpenSeconds,
		}
		if dr.Station != "" {
			door["station_extension"], door["station_digit"] = dr.Station, dr.StationDigit
		}
		r.call(t, "building.doors.create", map[string]any{"door": door}, nil)
		fmt.Fprintf(&sim, "      - id: %s\n        unlock_s: %d\n        readers:\n          - {id: %s-in, direction: in}\n          - {id: %s-out, direction: out}\n",
			dr.ID, max(dr.UnlockSeconds, 1), dr.ID, dr.ID)
		levelDoors = append(levelDoors, map[string]any{"door": dr.ID})
	}
	r.call(t, "building.access_levels.create", map[string]any{"access_level": map[string]any{"id": "staff", "name": "全体员工 Staff", "doors": levelDoors}}, nil)
	r.call(t, "building.cardholders.create", map[string]any{"cardholder": map[string]any{
		"id": "li", "name": "李明 Li Ming", "department": "办公室 Office", "cards": []string{rigCard}, "access_levels": []string{"staff"},
	}}, nil)

	cfg := simtest.WriteFile(t, "sim.yaml", sim.String())
	r.sim = simtest.Start(t, simBin, "--broker", "mqtt://"+broker, "--config", cfg)
	r.sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", rigController))
	return r
}

// call sends one console request as the admin and fails the test when
// it fails.
func (r *buildingRig) call(t *testing.T, typ string, params map[string]any, result any) {
	t.Helper()
	if err := r.callErr(typ, params, result); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
}

// callErr sends one console request as the admin.
func (r *buildingRig) callErr(typ string, params map[string]any, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return r.api.Call(ctx, typ, params, result)
}

// auditEntry is an audit log entry as audit.list gives it.
type auditEntry struct {
	User, Role, Action, Target, Result, Detail string
}

// audit lists the audit entries of an action (or a prefix ending in ".").
func (r *buildingRig) audit(t *testing.T, action string) []auditEntry {
	t.Helper()
	var res struct{ Entries []auditEntry }
	r.call(t, "audit.list", map[string]any{"action": action, "limit": 500}, &res)
	return res.Entries
}

// pollAudit waits until an audit entry matches: building writes the
// outcome of a command when the controller acknowledges it.
func (r *buildingRig) pollAudit(t *testing.T, action string, match func(auditEntry) bool) auditEntry {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		for _, e := range r.audit(t, action) {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching %s audit entry within %s; have %+v", action, stepTimeout, r.audit(t, action))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// doorRow and doorMarker are a door's row in the door list and its
// marker on the plan.
func doorRow(id string) string    { return fmt.Sprintf(`[data-testid=doors-table] tr[data-door=%q]`, id) }
func doorMarker(id string) string { return fmt.Sprintf(`[data-testid=plan-door][data-door=%q]`, id) }

// pollLook waits until the door shows look in the list (and on the plan,
// when it is placed).
func pollLook(t *testing.T, tb *tab, id, look string) {
	t.Helper()
	tb.poll(t, fmt.Sprintf("door %s %s", id, look), fmt.Sprintf(`(() => {
		const row = document.querySelector(%q);
		const m = document.querySelector(%q);
		return !!row && row.dataset.look === %q && (!m || m.dataset.look === %q);
	})()`, doorRow(id), doorMarker(id), look, look))
}

// markerFill is the colour the plan paints a door's marker.
func markerFill(t *testing.T, tb *tab, id string) string {
	t.Helper()
	return evalAs[string](t, tb, fmt.Sprintf(`getComputedStyle(document.querySelector('%s .marker-dot')).fill`, doorMarker(id)))
}

// switchLang clicks the language switch and waits for the page title.
func switchLang(t *testing.T, tb *tab, lang, title string) {
	t.Helper()
	tb.do(t, "switch to "+lang, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=lang-switch] button[data-lang=%q]`, lang))))
	tb.poll(t, "the page in "+lang, fmt.Sprintf(`document.querySelector('[data-testid=page-title]').textContent === %q`, title))
}
