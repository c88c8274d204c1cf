package mqttlink

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"civic/building"
	"civic/building/mqttlink/simtest"
)

// TestSwipeDecision: a swipe from the simulator reaches Device.Swipe and
// the decision reaches the simulator, which unlocks the door.
func TestSwipeDecision(t *testing.T) {
	dev := newFakeDevice(map[string]string{"c1": "pw-c1"})
	l, _ := startLink(t, dev, nil)
	sim := startSim(t, "mqtt://"+l.Addr(), "1h", "c1:pw-c1")
	sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", "c1"))

	tests := []struct {
		card    string
		granted bool
		reason  string
		unlockS int
	}{
		{"1001", true, "granted", 3},
		{"9999", false, "unknown_card", 0},
		{"boom", false, "error", 0}, // the Device failed: deny
	}
	for _, tt := range tests {
		t.Run(tt.card, func(t *testing.T) {
			mark := sim.Mark()
			sim.Do(t, "swipe c1 c1-d1-in "+tt.card)
			sw := sim.WaitAfter(t, mark, "swipe", simtest.Match("swipe", "card", tt.card))
			id := sw.Str("id")
			waitFor(t, "Device.Swipe "+id, func() bool {
				swipes, _, _, _, _ := dev.snapshot()
				return slices.ContainsFunc(swipes, func(s building.Swipe) bool {
					return s.MsgID == id && s.Controller == "c1" && s.Reader == "c1-d1-in" && s.Card == tt.card && !s.At.IsZero()
				})
			})
			d := sim.WaitAfter(t, mark, "decision", simtest.Match("decision", "re", id))
			if d.Bool("granted") != tt.granted || d.Str("reason") != tt.reason || d.Int("unlock_s") != tt.unlockS {
				t.Errorf("decision = %v, want granted %v reason %s unlock_s %d", d, tt.granted, tt.reason, tt.unlockS)
			}
			if d.Str("controller") != "c1" || d.Str("reader") != "c1-d1-in" || d.Bool("late") {
				t.Errorf("decision = %v, want c1 c1-d1-in in time", d)
			}
			if tt.granted {
				sim.WaitAfter(t, mark, "door unlocked by the grant", simtest.Match("door", "door", "c1-d1", "lock", "unlocked", "why", "grant"))
				// and the controller reports it
				waitFor(t, "unlocked report", func() bool {
					_, doors, _, _, _ := dev.snapshot()
					return slices.ContainsFunc(doors, func(r building.DoorReport) bool {
						return r.Controller == "c1" && r.Door == "c1-d1" && r.Lock == building.LockUnlocked
					})
				})
			}
		})
	}
	if got := l.Stats().Decisions; got != 3 {
		t.Errorf("decisions published = %d, want 3", got)
	}
}

// TestCommandAck: a command sent through the Commander reaches the
// simulator and its acknowledgement reaches Device.CommandAcked.
func TestCommandAck(t *testing.T) {
	dev := newFakeDevice(map[string]string{"c1": "pw-c1"})
	l, _ := startLink(t, dev, nil)
	sim := startSim(t, "mqtt://"+l.Addr(), "1h", "c1:pw-c1")
	sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", "c1"))
	ctx := context.Background()

	tests := []struct {
		name    string
		cmd     building.Command
		ok      bool
		errText string
		lock    string
	}{
		{"unlock", building.Command{ID: "cmd-1", Door: "c1-d1", Action: building.ActionUnlock, Seconds: 30}, true, "", "unlocked"},
		{"lock", building.Command{ID: "cmd-2", Door: "c1-d1", Action: building.ActionLock}, true, "", "locked"},
		{"until", building.Command{ID: "cmd-3", Door: "c1-d1", Action: building.ActionUnlock, Until: time.Now().Add(time.Hour)}, true, "", "unlocked"},
		{"lockdown", building.Command{ID: "cmd-4", Door: "c1-d1", Action: building.ActionMode, Mode: building.ModeLockedDown}, true, "", "locked"},
		{"unknown door", building.Command{ID: "cmd-5", Door: "nowhere", Action: building.ActionLock}, false, "unknown door", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mark := sim.Mark()
			if err := l.Send(ctx, "c1", tt.cmd); err != nil {
				t.Fatalf("Send: %v", err)
			}
			sim.WaitAfter(t, mark, "command", simtest.Match("command", "id", tt.cmd.ID, "door", tt.cmd.Door, "action", tt.cmd.Action))
			sim.WaitAfter(t, mark, "ack", simtest.Match("ack", "re", tt.cmd.ID, "ok", tt.ok, "sent", true))
			waitFor(t, "CommandAcked "+tt.cmd.ID, func() bool {
				_, _, _, acks, _ := dev.snapshot()
				return slices.Contains(acks, building.Ack{Controller: "c1", CommandID: tt.cmd.ID, OK: tt.ok, Error: tt.errText})
			})
			if tt.lock != "" {
				sim.WaitAfter(t, mark, "door "+tt.lock, simtest.Match("door", "door", "c1-d1", "lock", tt.lock))
			}
		})
	}

	// Refusals Send gives at once.
	if err := l.Send(ctx, "c9", building.Command{ID: "cmd-9", Door: "c9-d1", Action: building.ActionLock}); !errors.Is(err, ErrOffline) {
		t.Errorf("Send to an unconnected controller: %v, want ErrOffline", err)
	}
	bad := []struct {
		ctrl string
		cmd  building.Command
	}{
		{"c1/#", building.Command{ID: "x", Door: "c1-d1", Action: building.ActionLock}},
		{"c1", building.Command{ID: "", Door: "c1-d1", Action: building.ActionLock}},
		{"c1", building.Command{ID: "x", Door: "c1-d1", Action: "explode"}},
		{"c1", building.Command{ID: "x", Door: "a b", Action: building.ActionLock}},
		{"c1", building.Command{ID: "x", Door: "c1-d1", Action: building.ActionMode, Mode: "party"}},
	}
	for _, b := range bad {
		if err := l.Send(ctx, b.ctrl, b.cmd); !errors.Is(err, ErrInvalid) {
			t.Errorf("Send(%q, %+v) = %v, want ErrInvalid", b.ctrl, b.cmd, err)
		}
	}
}

// TestWrongCredentials: a controller with a wrong password, an unknown
// controller, and one whose client id is another controller's are
// refused and logged, and never reach the Device.
func TestWrongCredentials(t *testing.T) {
	dev := newFakeDevice(map[string]string{"c1": "pw-c1", "c2": "pw-c2"})
	l, logs := startLink(t, dev, nil)
	sim := startSim(t, "mqtt://"+l.Addr(), "1h", "c1:pw-c1", "c2:wrong", "c3:pw-c3")
	sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", "c1"))
	for _, c := range []string{"c2", "c3"} {
		e := sim.Wait(t, c+" refused", simtest.Match("connect_failed", "controller", c))
		if e.Int("code") != 0x86 {
			t.Errorf("%s: CONNACK code %d, want 0x86 (bad user name or password)", c, e.Int("code"))
		}
		l := waitLog(t, logs, "mqtt login refused", "controller", c)
		if l.Attrs["reason"] != "wrong password or unknown controller" || l.Attrs["remote"] == "" {
			t.Errorf("log line %v lacks its reason or remote", l)
		}
	}
	for _, line := range logs.find("mqtt login refused") {
		for _, v := range line.Attrs {
			if v == "wrong" || v == "pw-c3" {
				t.Errorf("a password is in the log: %v", line)
			}
		}
	}
	if l.Stats().LoginsRefused < 2 {
		t.Errorf("LoginsRefused = %d, want >= 2", l.Stats().LoginsRefused)
	}
	_, doors, beats, _, statuses := dev.snapshot()
	for _, d := range doors {
		if d.Controller != "c1" {
			t.Errorf("door report from %s reached the Device", d.Controller)
		}
	}
	for _, b := range beats {
		if b.Controller != "c1" {
			t.Errorf("heartbeat from %s reached the Device", b.Controller)
		}
	}
	for _, s := range statuses {
		if s.Controller != "c1" {
			t.Errorf("status from %s reached the Device", s.Controller)
		}
	}
}

// TestForeignTopics: a controller publishing to, or subscribing to,
// another controller's topics (or to topics outside its own upstream
// ones) is refused and logged, and the Device is not called.
func TestForeignTopics(t *testing.T) {
	dev := newFakeDevice(map[string]string{"c1": "pw-c1", "c2": "pw-c2"})
	l, logs := startLink(t, dev, nil)
	sim := startSim(t, "mqtt://"+l.Addr(), "1h", "c1:pw-c1", "c2:pw-c2")
	sim.Wait(t, "all connected", simtest.Match("all_connected"))

	pubs := []struct{ topic, payload string }{
		{"civic/v1/controllers/c2/heartbeat", `{"v":1,"id":"forged-1","ts":"{ts}"}`},
		{"civic/v1/controllers/c2/readers/c2-d1-in/card", `{"v":1,"id":"forged-2","ts":"{ts}","card":"1001"}`},
		{"civic/v1/controllers/c2/doors/c2-d1/state", `{"v":1,"id":"forged-3","ts":"{ts}","contact":"open"}`},
		{"civic/v1/controllers/c2/readers/c2-d1-in/decision", `{"v":1,"id":"forged-4","ts":"{ts}","re":"x","granted":true,"reason":"granted","unlock_s":60}`},
		{"civic/v1/controllers/c1/commands", `{"v":1,"id":"forged-5","ts":"{ts}","door":"c1-d1","action":"unlock"}`},
		{"civic/v1/controllers/c1/whatever", `{"v":1,"id":"forged-6","ts":"{ts}"}`},
		{"elsewhere/topic", `{"v":1,"id":"forged-7","ts":"{ts}"}`},
	}
	// The first logBurst refusals each get a log line; then the lines
	// are rate-limited (the counter still counts every one).
	for i, p := range pubs {
		mark := sim.Mark()
		sim.Do(t, "publish c1 "+p.topic+" "+p.payload)
		sim.WaitAfter(t, mark, "publish refused", simtest.Match("publish_refused", "controller", "c1", "topic", p.topic))
		if i < logBurst {
			waitLog(t, logs, "mqtt publish refused", "controller", "c1", "topic", p.topic)
		}
	}
	subs := []string{
		"civic/v1/controllers/c2/commands",
		"civic/v1/controllers/c2/readers/+/decision",
		"civic/v1/controllers/+/commands",
		"civic/v1/controllers/#",
		"#",
		"$SYS/#",
		"civic/v1/controllers/c1/heartbeat",
	}
	for i, f := range subs {
		mark := sim.Mark()
		sim.Do(t, "subscribe c1 "+f)
		sim.WaitAfter(t, mark, "subscribe refused", simtest.Match("subscribe_refused", "controller", "c1", "filter", f))
		if i < logBurst {
			waitLog(t, logs, "mqtt subscribe refused", "controller", "c1", "topic", f)
		}
	}
	// Its own topics still work, and a message it sent after the refused
	// ones has arrived: the refused ones never will.
	mark := sim.Mark()
	sim.Do(t, `publish c1 ~/heartbeat {"v":1,"id":"own-1","ts":"{ts}"}`)
	sim.WaitAfter(t, mark, "published", simtest.Match("published", "controller", "c1"))
	waitFor(t, "own heartbeat", func() bool { return dev.msgIDs()["own-1"] })
	sim.Do(t, "subscribe c1 civic/v1/controllers/c1/readers/c1-d1-in/decision")
	sim.WaitAfter(t, mark, "own subscription", simtest.Match("subscribed", "controller", "c1"))

	ids := dev.msgIDs()
	for i := 1; i <= 7; i++ {
		if id := "forged-" + string(rune('0'+i)); ids[id] {
			t.Errorf("%s reached the Device", id)
		}
	}
	if swipes, _, _, _, _ := dev.snapshot(); len(swipes) != 0 {
		t.Errorf("swipes reached the Device: %+v", swipes)
	}
	if n := l.Stats().ACLRefused; n < uint64(len(pubs)+len(subs)) {
		t.Errorf("ACLRefused = %d, want >= %d", n, len(pubs)+len(subs))
	}
	for _, e := range sim.Events() {
		if e.Name() == "command" || e.Name() == "decision" {
			t.Errorf("a forged message reached a controller: %v", e)
		}
	}
}

// TestHeartbeatsAndWill: heartbeats flow; a controller that stops them
// sends none; one that drops its connection without DISCONNECT produces
// its will (offline), then reconnects (online) and reports its doors.
func TestHeartbeatsAndWill(t *testing.T) {
	dev := newFakeDevice(map[string]string{"c1": "pw-c1"})
	l, logs := startLink(t, dev, nil)
	sim := startSim(t, "mqtt://"+l.Addr(), "100ms", "c1:pw-c1")
	sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", "c1"))

	beats := func() []beat {
		_, _, b, _, _ := dev.snapshot()
		return b
	}
	waitFor(t, "5 heartbeats", func() bool { return len(beats()) >= 5 })
	seen := map[string]bool{}
	for _, b := range beats() {
		if b.Controller != "c1" || b.MsgID == "" || b.At.IsZero() || seen[b.MsgID] {
			t.Errorf("bad heartbeat %+v", b)
		}
		seen[b.MsgID] = true
	}

	mark := sim.Mark()
	sim.Do(t, "stop-heartbeat c1")
	sim.WaitAfter(t, mark, "control", simtest.Match("control", "line", "stop-heartbeat c1"))
	mark = sim.Mark()
	sim.Do(t, "start-heartbeat c1")
	hb := sim.WaitAfter(t, mark, "heartbeat", simtest.Match("heartbeat", "controller", "c1"))
	waitFor(t, "heartbeat after restart", func() bool {
		return slices.ContainsFunc(beats(), func(b beat) bool { return b.MsgID == hb.Str("id") })
	})

	statusOf := func(st string) int {
		_, _, _, _, s := dev.snapshot()
		n := 0
		for _, x := range s {
			if x.Controller == "c1" && x.Status == st {
				n++
			}
		}
		return n
	}
	waitFor(t, "online status", func() bool { return statusOf("online") == 1 })
	mark = sim.Mark()
	sim.Do(t, "drop c1 hold")
	sim.WaitAfter(t, mark, "disconnected", simtest.Match("disconnected", "controller", "c1"))
	waitFor(t, "offline status from the will", func() bool { return statusOf("offline") == 1 })
	waitLog(t, logs, "controller status", "controller", "c1", "status", "offline", "reason", "will")
	waitLog(t, logs, "controller disconnected", "controller", "c1")
	if n := statusOf("online"); n != 1 {
		t.Errorf("online %d times while held down, want 1", n)
	}
	sim.Do(t, "reconnect c1")
	sim.WaitAfter(t, mark, "reconnected", simtest.Match("connected", "controller", "c1"))
	waitFor(t, "online again", func() bool { return statusOf("online") == 2 })
	// the reconnect's snapshot reports the door again
	sim.WaitAfter(t, mark, "snapshot", simtest.Match("door", "door", "c1-d1", "why", "snapshot", "sent", true))

	// A drop with an immediate reconnect: whatever order the will and
	// the new online status arrive in, the controller ends up online.
	mark = sim.Mark()
	sim.Do(t, "drop c1")
	sim.WaitAfter(t, mark, "reconnected", simtest.Match("connected", "controller", "c1"))
	waitFor(t, "online a third time", func() bool { return statusOf("online") == 3 })
	waitFor(t, "last status online", func() bool {
		_, _, _, _, s := dev.snapshot()
		return s[len(s)-1].Status == "online"
	})
}

// TestExternalBroker: the same flows through a separate broker (here a
// plain mochi broker that lets everyone in) that civicd reaches as a
// paho client.
func TestExternalBroker(t *testing.T) {
	broker := mqtt.New(&mqtt.Options{Logger: discardLogger()})
	if err := broker.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := broker.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := broker.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Close() })
	url := "mqtt://civicd:secret@" + tcp.Address()

	dev := newFakeDevice(nil)
	l, logs := startLink(t, dev, func(c *Config) { c.URL = url; c.Listen = "127.0.0.1:0" })
	if l.Addr() != "" {
		t.Errorf("Addr = %q with an external broker, want empty", l.Addr())
	}
	waitLog(t, logs, "mqtt connected to broker")
	for _, line := range logs.find("mqtt connected to broker") {
		if line.Attrs["broker"] != "mqtt://civicd:xxxxx@"+tcp.Address() {
			t.Errorf("broker logged as %q", line.Attrs["broker"])
		}
	}
	waitLog(t, logs, "mqtt subscribed to the controllers' topics")
	sim := startSim(t, "mqtt://"+tcp.Address(), "1h", "c1:any")
	sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", "c1"))
	sim.Do(t, "swipe c1 c1-d1-in 1001")
	sw := sim.Wait(t, "swipe", simtest.Match("swipe", "controller", "c1"))
	d := sim.Wait(t, "decision", simtest.Match("decision", "re", sw.Str("id")))
	if !d.Bool("granted") || d.Int("unlock_s") != 3 {
		t.Errorf("decision %v, want granted for 3 s", d)
	}
	waitFor(t, "status and door reports", func() bool {
		_, doors, _, _, st := dev.snapshot()
		return len(doors) > 0 && len(st) > 0
	})
	mark := sim.Mark()
	if err := l.Send(context.Background(), "c1", building.Command{ID: "ext-1", Door: "c1-d1", Action: building.ActionUnlock, Seconds: 9}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sim.WaitAfter(t, mark, "ack", simtest.Match("ack", "re", "ext-1", "ok", true))
	waitFor(t, "CommandAcked", func() bool {
		_, _, _, acks, _ := dev.snapshot()
		return slices.Contains(acks, building.Ack{Controller: "c1", CommandID: "ext-1", OK: true})
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// allowAll lets every client in and everywhere, like a broker whose
// access rules are someone else's business.
type allowAll struct{ mqtt.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
