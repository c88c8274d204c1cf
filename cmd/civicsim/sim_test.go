package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"civic/building/mqttlink/simtest"
	"civic/building/mqttlink/wire"
)

var simBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "civicsim")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if simBin, err = simtest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func TestConfigCheck(t *testing.T) {
	ok := func() simConfig {
		return simConfig{Controllers: []ctrlConfig{{ID: "c1", Doors: []doorConfig{{ID: "d1", Readers: []readerConfig{{ID: "r1"}}}}}}}
	}
	tests := []struct {
		name string
		mod  func(*simConfig)
		want string // "" = valid
	}{
		{"valid", func(*simConfig) {}, ""},
		{"no controllers", func(c *simConfig) { c.Controllers = nil }, "no controllers"},
		{"bad id", func(c *simConfig) { c.Controllers[0].ID = "c/1" }, "invalid or repeated"},
		{"repeated controller", func(c *simConfig) { c.Controllers = append(c.Controllers, ctrlConfig{ID: "c1"}) }, "invalid or repeated"},
		{"repeated door", func(c *simConfig) {
			c.Controllers = append(c.Controllers, ctrlConfig{ID: "c2", Doors: []doorConfig{{ID: "d1"}}})
		}, "door id"},
		{"repeated reader", func(c *simConfig) {
			c.Controllers[0].Doors[0].Readers = append(c.Controllers[0].Doors[0].Readers, readerConfig{ID: "r1"})
		}, "reader id"},
		{"fail mode", func(c *simConfig) { c.Controllers[0].FailMode = "maybe" }, "fail_mode"},
		{"door fail mode", func(c *simConfig) { c.Controllers[0].Doors[0].FailMode = "open" }, "fail_mode"},
		{"bad card", func(c *simConfig) { c.Cards = []string{"a b"} }, "card"},
		{"negative rate", func(c *simConfig) { c.SwipesPerSec = -1 }, "swipes_per_sec"},
		{"empty step", func(c *simConfig) { c.Script = []scriptStep{{At: time.Second}} }, "script[0]"},
	}
	for _, tt := range tests {
		c := ok()
		tt.mod(&c)
		err := c.check()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
	c := ok()
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	d := c.Controllers[0].Doors[0]
	if c.Heartbeat != 10*time.Second || c.DecisionTimeout != 2*time.Second || d.UnlockS != 5 || d.FailMode != wire.FailSecure {
		t.Errorf("defaults not filled: %+v", c)
	}
}

func TestGenerate(t *testing.T) {
	cs := generate(2, 3, "pw-{id}", "safe", 7)
	if len(cs) != 2 || cs[1].ID != "c2" || cs[1].Password != "pw-c2" || len(cs[1].Doors) != 3 {
		t.Fatalf("generate = %+v", cs)
	}
	d := cs[1].Doors[2]
	if d.ID != "c2-d3" || d.UnlockS != 7 || len(d.Readers) != 2 || d.Readers[0].ID != "c2-d3-in" || d.Readers[1].ID != "c2-d3-out" {
		t.Errorf("door = %+v", d)
	}
	c := simConfig{Controllers: cs}
	if err := c.check(); err != nil {
		t.Error(err)
	}
}

func TestLoadConfig(t *testing.T) {
	p := simtest.WriteFile(t, "sim.yaml", "heartbeat: 3s\ncontrollers:\n  - id: c1\n    doors: [{id: d1, readers: [{id: r1, direction: in}]}]\nscript:\n  - {at: 1s, do: \"open d1\"}\n")
	c, err := loadConfig(p)
	if err != nil || c.Heartbeat != 3*time.Second || len(c.Controllers) != 1 || c.Script[0].Do != "open d1" {
		t.Errorf("loadConfig = %+v, %v", c, err)
	}
	p = simtest.WriteFile(t, "bad.yaml", "controlers: []\n")
	if _, err := loadConfig(p); err == nil {
		t.Error("an unknown key was taken")
	}
	p = simtest.WriteFile(t, "empty.yaml", "")
	if _, err := loadConfig(p); err != nil {
		t.Errorf("an empty file: %v", err)
	}
}

func TestCLI(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"building", "--help"}, 0, "swipe CTRL READER CARD"},
		{[]string{"--help"}, 0, "fail_mode"},
		{[]string{}, 2, "Usage"},
		{[]string{"garage"}, 2, "unknown command"},
		{[]string{"building"}, 2, "no controllers"},
		{[]string{"building", "--controllers", "1", "--fail-mode", "sideways"}, 2, "fail_mode"},
		{[]string{"building", "--controllers", "1", "--broker", "::"}, 2, "not a URL"},
		{[]string{"building", "--config", "/nonexistent.yaml"}, 2, "nonexistent"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code := run(tt.args, strings.NewReader(""), &out, &out)
		if code != tt.code || !strings.Contains(out.String(), tt.out) {
			t.Errorf("civicsim %v = %d, %.200q; want %d and %q", tt.args, code, out.String(), tt.code, tt.out)
		}
	}
}

func TestRestAfter(t *testing.T) {
	tests := []struct {
		line string
		n    int
		want string
	}{
		{`publish c1 ~/heartbeat {"a": 1, "b": 2}`, 3, `{"a": 1, "b": 2}`},
		{"publish  c1\t~/x   payload here ", 3, "payload here "},
		{"publish c1 ~/x", 3, ""},
	}
	for _, tt := range tests {
		if got := restAfter(tt.line, tt.n); got != tt.want {
			t.Errorf("restAfter(%q, %d) = %q, want %q", tt.line, tt.n, got, tt.want)
		}
	}
	for _, n := range []int{0, 10, 100, 5000} {
		b := bigPayload("x-1", n)
		if n >= 100 && len(b) != n {
			t.Errorf("bigPayload(%d) has %d bytes", n, len(b))
		}
		if _, err := wire.Decode(wire.KindHeartbeat, b); n < wire.MaxPayload && err != nil {
			t.Errorf("bigPayload(%d) does not decode: %v", n, err)
		}
	}
}

// broker is a plain mochi broker for the simulator's own tests; it plays
// civicd with its in-process client: cards "1001" are granted for 1 s,
// "9999" denied, anything else never answered.
type broker struct {
	srv  *mqtt.Server
	addr string

	mu   sync.Mutex
	acks []wire.Ack
	seq  int
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{srv: mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})}
	if err := b.srv.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := b.srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	b.addr = tcp.Address()
	if err := b.srv.Subscribe(wire.Prefix+"+/readers/+/card", 1, b.onCard); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Subscribe(wire.Prefix+"+/acks", 2, b.onAck); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.srv.Close() })
	return b
}

func (b *broker) onCard(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	tp, err := wire.ParseTopic(pk.TopicName)
	if err != nil {
		return
	}
	m, err := wire.Decode(wire.KindCard, pk.Payload)
	if err != nil {
		return
	}
	card := m.(*wire.Card)
	d := &wire.Decision{Re: card.ID, Reason: "unknown_card"}
	switch card.Card {
	case "1001":
		d.Granted, d.Reason, d.UnlockS = true, "granted", 1
	case "9999":
	default:
		return
	}
	b.mu.Lock()
	b.seq++
	d.Header = wire.NewHeader(fmt.Sprintf("civicd-%d", b.seq), time.Now())
	b.mu.Unlock()
	payload, _ := wire.Encode(d)
	go func() { _ = b.srv.Publish(wire.DecisionTopic(tp.Controller, tp.Reader), payload, false, 1) }()
}

func (b *broker) onAck(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	m, err := wire.Decode(wire.KindAck, pk.Payload)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.acks = append(b.acks, *m.(*wire.Ack))
	b.mu.Unlock()
}

func (b *broker) command(t *testing.T, ctrl string, c *wire.Command) {
	t.Helper()
	payload, err := wire.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Publish(wire.CommandTopic(ctrl), payload, false, 1); err != nil {
		t.Fatal(err)
	}
}

type allowAll struct{ mqtt.HookBase }

func (h *allowAll) ID() string { return "allow-all" }
func (h *allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (h *allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (h *allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

const doorsYAML = `decision_timeout: 300ms
heartbeat: 1h
controllers:
  - id: c1
    password: x
    fail_mode: secure
    doors:
      - id: sec
        unlock_s: 1
        readers: [{id: sec-in, direction: in}]
      - id: safe
        unlock_s: 1
        fail_mode: safe
        readers: [{id: safe-in, direction: in}]
`

// TestDoors: grants unlock a door for unlock_s and it locks again;
// unanswered swipes follow the door's fail mode; open refuses a locked
// door; commands are acknowledged (again for a repeat, refused when
// expired or for an unknown door); a cut connection releases fail-safe
// doors until it is back.
func TestDoors(t *testing.T) {
	b := startBroker(t)
	sim := simtest.Start(t, simBin, "--broker", "mqtt://"+b.addr, "--config", simtest.WriteFile(t, "sim.yaml", doorsYAML))
	sim.Wait(t, "connected", simtest.Match("connected", "controller", "c1"))
	door := func(mark int, d, lock, why string) {
		t.Helper()
		sim.WaitAfter(t, mark, d+" "+lock+" ("+why+")", simtest.Match("door", "door", d, "lock", lock, "why", why, "sent", true))
	}

	mark := sim.Mark()
	sim.Do(t, "swipe c1 sec-in 1001")
	sim.WaitAfter(t, mark, "grant", simtest.Match("decision", "reader", "sec-in", "granted", true, "unlock_s", 1))
	door(mark, "sec", "unlocked", "grant")
	door(mark, "sec", "locked", "relock")

	mark = sim.Mark()
	sim.Do(t, "swipe c1 sec-in 9999")
	sim.WaitAfter(t, mark, "denial", simtest.Match("decision", "reader", "sec-in", "granted", false, "reason", "unknown_card"))

	for _, tt := range []struct {
		reader  string
		granted bool
	}{{"sec-in", false}, {"safe-in", true}} {
		mark = sim.Mark()
		sim.Do(t, "swipe c1 "+tt.reader+" 5555")
		sim.WaitAfter(t, mark, "timeout", simtest.Match("decision_timeout", "reader", tt.reader, "granted", tt.granted, "why", "timeout"))
	}
	door(mark, "safe", "unlocked", "fail_safe")

	mark = sim.Mark()
	sim.Do(t, "open sec")
	sim.WaitAfter(t, mark, "open refused", simtest.Match("error", "line", "open sec"))
	sim.Do(t, "force sec")
	sim.WaitAfter(t, mark, "forced", simtest.Match("door", "door", "sec", "contact", "open", "why", "force"))
	sim.Do(t, "close sec")
	sim.WaitAfter(t, mark, "closed", simtest.Match("door", "door", "sec", "contact", "closed"))
	sim.Do(t, "rex sec")
	sim.WaitAfter(t, mark, "rex", simtest.Match("door", "door", "sec", "request_to_exit", true))
	sim.Do(t, "tamper sec")
	sim.WaitAfter(t, mark, "tamper", simtest.Match("door", "door", "sec", "tamper", true))

	now := time.Now()
	cmds := []struct {
		cmd *wire.Command
		ok  bool
		err string
	}{
		{&wire.Command{Header: wire.NewHeader("k1", now), Door: "sec", Action: wire.ActionUnlock, Seconds: 60}, true, ""},
		{&wire.Command{Header: wire.NewHeader("k1", now), Door: "sec", Action: wire.ActionUnlock, Seconds: 60}, true, ""},
		{&wire.Command{Header: wire.NewHeader("k2", now), Door: "sec", Action: wire.ActionLock}, true, ""},
		{&wire.Command{Header: wire.NewHeader("k3", now.Add(-time.Minute)), Door: "sec", Action: wire.ActionUnlock}, false, "expired"},
		{&wire.Command{Header: wire.NewHeader("k4", now), Door: "elsewhere", Action: wire.ActionLock}, false, "unknown door"},
		{&wire.Command{Header: wire.NewHeader("k5", now), Door: "sec", Action: wire.ActionMode, Mode: wire.ModeUnlockedSchedule}, true, ""},
	}
	for i, c := range cmds {
		mark = sim.Mark()
		b.command(t, "c1", c.cmd)
		sim.WaitAfter(t, mark, "ack "+c.cmd.ID, simtest.Match("ack", "re", c.cmd.ID, "ok", c.ok, "error", c.err, "repeat", i == 1, "sent", true))
	}
	// The broker acknowledges a publish before it hands it on, so the
	// last ack may reach it just after the simulator printed it.
	deadline := time.Now().Add(simtest.Timeout)
	for {
		b.mu.Lock()
		n := len(b.acks)
		b.mu.Unlock()
		if n == len(cmds) {
			break
		}
		if n > len(cmds) || time.Now().After(deadline) {
			t.Fatalf("broker got %d acks, want %d", n, len(cmds))
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A cut connection releases the fail-safe door until it is back.
	mark = sim.Mark()
	sim.Do(t, "drop c1 hold")
	sim.WaitAfter(t, mark, "released", simtest.Match("fail_mode", "door", "safe", "lock", "unlocked", "why", "disconnected"))
	sim.Do(t, "swipe c1 sec-in 1001")
	sim.WaitAfter(t, mark, "offline swipe", simtest.Match("decision_timeout", "reader", "sec-in", "granted", false, "why", "disconnected"))
	sim.Do(t, "reconnect c1")
	sim.WaitAfter(t, mark, "relocked", simtest.Match("fail_mode", "door", "safe", "lock", "locked", "why", "reconnected"))
	sim.WaitAfter(t, mark, "connected", simtest.Match("connected", "controller", "c1"))
	door(mark, "safe", "locked", "snapshot")
}

// TestRandomSwipes: --swipes-per-sec swipes on its own, over the
// generated controllers' readers, with the given cards.
func TestRandomSwipes(t *testing.T) {
	b := startBroker(t)
	sim := simtest.Start(t, simBin, "--broker", "mqtt://"+b.addr, "--controllers", "3", "--doors", "2",
		"--swipes-per-sec", "50", "--cards", "1001,9999", "--heartbeat", "1h")
	sim.Wait(t, "all connected", simtest.Match("all_connected", "controllers", 3))
	granted, denied := 0, 0
	sim.Wait(t, "both answers", func(e simtest.Event) bool {
		if e.Name() == "decision" {
			if e.Bool("granted") {
				granted++
			} else {
				denied++
			}
		}
		return granted >= 3 && denied >= 3
	})
}
