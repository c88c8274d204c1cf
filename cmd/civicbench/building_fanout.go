package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"civic/conference/confclient"
)

// doorChange is one change the bench asked civicsim for: a door's
// contact going open or closed, and when the command was written.
type doorChange struct {
	door    string
	contact string
	sent    time.Time
}

// changeLog is the changes made so far and, per door, the latest; the
// watchers match each building.door_changed they receive to it.
type changeLog struct {
	mu      sync.RWMutex
	changes []doorChange
	latest  map[string]int // door -> index in changes
}

func newChangeLog(n int) *changeLog {
	return &changeLog{changes: make([]doorChange, 0, n), latest: map[string]int{}}
}

func (l *changeLog) add(c doorChange) {
	l.mu.Lock()
	l.changes = append(l.changes, c)
	l.latest[c.door] = len(l.changes) - 1
	l.mu.Unlock()
}

// match returns the index of door's latest change if it set contact, and
// when it was made.
func (l *changeLog) match(door, contact string) (int, time.Time, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, ok := l.latest[door]
	if !ok || l.changes[i].contact != contact {
		return 0, time.Time{}, false
	}
	return i, l.changes[i].sent, true
}

// doorEvent is the part of a building.doors event the watchers read.
type doorEvent struct {
	ID    int64 `json:"id"`
	Type  string
	Event struct {
		Topic string `json:"topic"`
		Kind  string `json:"kind"`
		Data  struct {
			Door struct {
				ID      string `json:"id"`
				Contact string `json:"contact"`
			} `json:"door"`
			Doors []json.RawMessage `json:"doors"`
		} `json:"data"`
	} `json:"event"`
}

// parseDoorEvent decodes a console message; ok is false for anything but
// an event on building.doors.
func parseDoorEvent(b []byte) (kind, door, contact string, snapshotDoors int, ok bool) {
	var m doorEvent
	if json.Unmarshal(b, &m) != nil || m.Type != "event" || m.Event.Topic != "building.doors" {
		return "", "", "", 0, false
	}
	return m.Event.Kind, m.Event.Data.Door.ID, m.Event.Data.Door.Contact, len(m.Event.Data.Doors), true
}

// watcher is one console websocket subscribed to building.doors.
type watcher struct {
	ws       *websocket.Conn
	log      *changeLog
	snapshot chan int // doors in the snapshot
	mu       sync.Mutex
	seen     map[int]bool
	lat      []time.Duration
	order    []int // the change of each lat
	err      error
	done     chan struct{}
}

// dialWatcher opens the console websocket, authenticates and subscribes
// to building.doors.
func dialWatcher(ctx context.Context, d *daemon, token string, log *changeLog) (*watcher, error) {
	u := "ws" + strings.TrimPrefix(d.URL, "http") + "/api/ws"
	dl := websocket.Dialer{TLSClientConfig: d.TLS}
	ws, _, err := dl.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	var hello struct{ Type string }
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "auth_required" {
		ws.Close()
		return nil, fmt.Errorf("handshake: got %q, %v", hello.Type, err)
	}
	if err := ws.WriteJSON(map[string]string{"type": "auth", "token": token}); err != nil {
		ws.Close()
		return nil, err
	}
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "auth_ok" {
		ws.Close()
		return nil, fmt.Errorf("auth: got %q, %v", hello.Type, err)
	}
	if err := ws.WriteJSON(map[string]any{"id": 1, "type": "subscribe", "topics": []string{"building.doors"}}); err != nil {
		ws.Close()
		return nil, err
	}
	w := &watcher{ws: ws, log: log, snapshot: make(chan int, 1), seen: map[int]bool{}, done: make(chan struct{})}
	go w.read()
	return w, nil
}

// read records, for each building.door_changed that shows a change the
// bench made, how long after the command it arrived (once per change).
func (w *watcher) read() {
	defer close(w.done)
	for {
		_, b, err := w.ws.ReadMessage()
		now := time.Now()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		kind, door, contact, n, ok := parseDoorEvent(b)
		switch {
		case !ok:
		case kind == "snapshot":
			select {
			case w.snapshot <- n:
			default:
			}
		case kind == "building.door_changed":
			i, sent, ok := w.log.match(door, contact)
			if !ok {
				continue
			}
			w.mu.Lock()
			if !w.seen[i] {
				w.seen[i] = true
				w.lat = append(w.lat, now.Sub(sent))
				w.order = append(w.order, i)
			}
			w.mu.Unlock()
		}
	}
}

func (w *watcher) close() {
	_ = w.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = w.ws.Close()
	<-w.done
}

// buildingFanout is part 2: every door unlocked until an hour from now
// (so opening it is no forced-open alarm), Watchers console websockets
// on building.doors, then civicsim opens and closes the doors in turn at
// ChangeRate (its `open` and `close` commands); the latency is from
// writing the command to civicsim to the event's arrival at each
// websocket.
func buildingFanout(ctx context.Context, cfg buildingConfig) (*buildingResult, error) {
	d, addr, err := buildingDaemon(ctx, cfg, "building-fanout")
	if err != nil {
		return nil, err
	}
	defer d.stop()
	defer saveLog(cfg, "building-fanout", d)
	ctrls, doors := simDoorIDs(cfg.Controllers, cfg.DoorsPer)
	start := time.Now()
	if err := createBuildingModel(ctx, d, ctrls, doors, 0, 0); err != nil {
		return nil, fmt.Errorf("create the model: %w", err)
	}
	n := int(cfg.ChangeRate * cfg.Window.Seconds())
	r := &buildingResult{
		Part: "building-fanout", Controllers: len(ctrls), Doors: len(doors), Offered: cfg.ChangeRate,
		Window: cfg.Window, Setup: time.Since(start), Watchers: cfg.Watchers,
	}
	log := newChangeLog(n)
	var (
		mu      sync.Mutex
		acks    int
		pending = map[string]time.Time{} // door -> command written, until civicsim reports it
	)
	handle := func(ev simEvent) {
		switch ev.Event {
		case "ack":
			if ev.OK != nil && *ev.OK {
				mu.Lock()
				acks++
				mu.Unlock()
			}
		case "door":
			if ev.Why != "open" && ev.Why != "close" {
				return
			}
			mu.Lock()
			if sent, ok := pending[ev.Door]; ok {
				delete(pending, ev.Door)
				r.Publish = append(r.Publish, ev.TS.Sub(sent))
			}
			mu.Unlock()
		}
	}
	sim, err := startSim(ctx, cfg, "building-fanout", handle,
		"--broker", "mqtt://"+addr, "--controllers", strconv.Itoa(cfg.Controllers), "--doors", strconv.Itoa(cfg.DoorsPer),
		"--password", controllerPasswordTemplate, "--seed", "1")
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	if err := sim.waitConnected(ctx, 30*time.Second); err != nil {
		return nil, err
	}

	// Unlock every door (building.doors.unlock_until) and wait for the
	// controllers' acknowledgements.
	opts := confclient.Options{TLS: d.TLS}
	token, err := confclient.Login(ctx, d.URL, "admin", d.Password, opts)
	if err != nil {
		return nil, err
	}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if err := parallelCalls(ctx, d, token, len(doors), func(i int) (string, map[string]any) {
		return "building.doors.unlock_until", map[string]any{"door": doors[i], "until": until}
	}); err != nil {
		return nil, fmt.Errorf("unlock the doors: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		got := acks
		mu.Unlock()
		if got >= len(doors) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("civicsim acknowledged %d of %d unlocks within 30 s: %s", got, len(doors), sim.firstErrors())
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}

	// The watchers.
	watchers := make([]*watcher, 0, cfg.Watchers)
	defer func() {
		for _, w := range watchers {
			w.close()
		}
	}()
	for range cfg.Watchers {
		w, err := dialWatcher(ctx, d, token, log)
		if err != nil {
			return nil, fmt.Errorf("watcher %d: %w", len(watchers)+1, err)
		}
		watchers = append(watchers, w)
	}
	for i, w := range watchers {
		select {
		case got := <-w.snapshot:
			if got != len(doors) {
				return nil, fmt.Errorf("watcher %d: the building.doors snapshot has %d doors, want %d", i+1, got, len(doors))
			}
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("watcher %d: no building.doors snapshot within 10 s", i+1)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cfg.Log.Info("watchers subscribed", "n", len(watchers))
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	// The changes: every door opens in turn, then every door closes, and
	// so on, at ChangeRate.
	r.RSSBefore, _ = procRSS(d.PID())
	if err := resetPeakRSS(d.PID()); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("the peak RSS includes the set-up (resetting VmHWM failed: %v)", err))
	}
	win := startWindow(cfg.Ticks, d.PID(), sim.PID())
	interval := time.Duration(float64(time.Second) / cfg.ChangeRate)
	next := time.Now()
	for i := range n {
		if err := sleep(ctx, time.Until(next)); err != nil {
			return nil, err
		}
		next = next.Add(interval)
		door, action, contact := doors[i%len(doors)], "open", "open"
		if (i/len(doors))%2 == 1 {
			action, contact = "close", "closed"
		}
		now := time.Now()
		log.add(doorChange{door: door, contact: contact, sent: now})
		mu.Lock()
		pending[door] = now
		mu.Unlock()
		if err := sim.send(action + " " + door); err != nil {
			return nil, fmt.Errorf("civicsim: %w", err)
		}
	}
	r.Changes = n
	// Let the last changes arrive, then close the window.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	cpu, self, others := win.end()
	r.CPU, r.SimCPU, r.BenchCPU, r.OtherCPU = cpu[0], cpu[1], self, others
	r.OtherPerSecond = win.perSecond
	r.Window = win.stopped.Sub(win.started)
	r.PeakRSS, _ = procPeakRSS(d.PID())
	r.Expected = n * len(watchers)
	broken := 0
	worst := make([]time.Duration, n) // per change, its slowest delivery
	for _, w := range watchers {
		w.mu.Lock()
		for i, lat := range w.lat {
			worst[w.order[i]] = max(worst[w.order[i]], lat)
		}
		r.Delivered += len(w.lat)
		r.Lat = append(r.Lat, w.lat...)
		if w.err != nil {
			broken++
		}
		w.mu.Unlock()
	}
	if note := slowChanges(log, worst, win.started, buildingTarget(r.Part)); note != "" {
		r.Notes = append(r.Notes, note)
	}
	if broken > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of the websockets were closed during the run", broken))
	}
	r.Warnings = d.logs.count(`"level":"WARN"`) + d.logs.count(`"level":"ERROR"`)
	r.Notes = append(r.Notes, fmt.Sprintf("model created through the console websocket in %.1f s: %d controllers, %d doors; every door then unlocked until an hour later with `building.doors.unlock_until` (so an opening is no forced-open alarm; held-open time 3,600 s), and %d websockets logged in as admin subscribed to `building.doors`",
		r.Setup.Seconds(), len(ctrls), len(doors), len(watchers)))
	r.Notes = append(r.Notes, fmt.Sprintf("%d changes: `open DOOR` for every door in turn, then `close DOOR`, written to civicsim's standard input at %g/s (each door changes every %.0f s); civicsim: `%s`",
		n, cfg.ChangeRate, float64(len(doors))/cfg.ChangeRate, sim.CommandLine()))
	return r, nil
}

// slowChanges describes the changes whose slowest delivery took at least
// target: how many, and when (seconds into the window), or "".
func slowChanges(log *changeLog, worst []time.Duration, start time.Time, target time.Duration) string {
	var at []string
	slow := 0
	log.mu.RLock()
	defer log.mu.RUnlock()
	for i, d := range worst {
		if d < target || i >= len(log.changes) {
			continue
		}
		slow++
		if len(at) < 12 {
			at = append(at, fmt.Sprintf("%.2f s (%s)", log.changes[i].sent.Sub(start).Seconds(), dur(d)))
		}
	}
	if slow == 0 {
		return ""
	}
	return fmt.Sprintf("%d changes reached some websocket %s or later; the first at (seconds into the window, slowest delivery): %s", slow, dur(target), strings.Join(at, ", "))
}
