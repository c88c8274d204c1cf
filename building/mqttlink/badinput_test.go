package mqttlink

import (
	"strconv"
	"strings"
	"testing"

	"civic/building/mqttlink/simtest"
)

// TestBadInput: each bad message a logged-in controller sends is dropped
// with one log line naming its reason, and the Device is never called
// with it. Each case's message id starts "bad-"; a good message sent
// after all of them has reached the Device, so (each controller's
// messages being handled in order) the bad ones were handled before.
func TestBadInput(t *testing.T) {
	dev := newFakeDevice(map[string]string{"c1": "pw-c1"})
	l, logs := startLink(t, dev, nil)
	sim := startSim(t, "mqtt://"+l.Addr(), "1h", "c1:pw-c1")
	sim.Wait(t, "c1 connected", simtest.Match("connected", "controller", "c1"))

	tests := []struct {
		name, topic, payload string // payload "big:N" publishes N bytes
		reason               string
	}{
		{"not JSON", "~/heartbeat", `{"v":1,"id":"bad-1",`, "malformed"},
		{"not an object", "~/heartbeat", `[1,2,3]`, "malformed"},
		{"wrong type", "~/heartbeat", `{"v":1,"id":17,"ts":"{ts}"}`, "malformed"},
		{"empty", "~/doors/c1-d1/state", ``, "malformed"},
		{"oversized", "~/heartbeat", "big:5000", "oversized"},
		{"wrong version", "~/heartbeat", `{"v":2,"id":"bad-2","ts":"{ts}"}`, "bad_version"},
		{"no version", "~/heartbeat", `{"id":"bad-3","ts":"{ts}"}`, "bad_version"},
		{"no id", "~/heartbeat", `{"v":1,"ts":"{ts}"}`, "bad_id"},
		{"bad id", "~/readers/c1-d1-in/card", `{"v":1,"id":"bad-4 x","ts":"{ts}","card":"1001"}`, "bad_id"},
		{"no ts", "~/heartbeat", `{"v":1,"id":"bad-5"}`, "bad_ts"},
		{"ts not RFC 3339", "~/heartbeat", `{"v":1,"id":"bad-6","ts":"yesterday"}`, "bad_ts"},
		{"old ts", "~/heartbeat", `{"v":1,"id":"bad-7","ts":"2001-01-01T00:00:00Z"}`, "stale"},
		{"future ts", "~/heartbeat", `{"v":1,"id":"bad-8","ts":"2999-01-01T00:00:00Z"}`, "stale"},
		{"lock ajar", "~/doors/c1-d1/state", `{"v":1,"id":"bad-9","ts":"{ts}","lock":"ajar"}`, "bad_field"},
		{"empty report", "~/doors/c1-d1/state", `{"v":1,"id":"bad-10","ts":"{ts}"}`, "bad_field"},
		{"no card", "~/readers/c1-d1-in/card", `{"v":1,"id":"bad-11","ts":"{ts}"}`, "bad_field"},
		{"pin letters", "~/readers/c1-d1-in/card", `{"v":1,"id":"bad-12","ts":"{ts}","card":"1001","pin":"abc"}`, "bad_field"},
		{"ack without ok", "~/acks", `{"v":1,"id":"bad-13","ts":"{ts}","re":"cmd-1"}`, "bad_field"},
		{"bad status", "~/status", `{"v":1,"id":"bad-14","ts":"{ts}","status":"sleepy"}`, "bad_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := l.Stats().Dropped
			mark := sim.Mark()
			if n, ok := strings.CutPrefix(tt.payload, "big:"); ok {
				sim.Do(t, "publish-big c1 "+tt.topic+" "+n)
			} else {
				sim.Do(t, "publish c1 "+tt.topic+" "+tt.payload)
			}
			sim.WaitAfter(t, mark, "published", simtest.Match("published", "controller", "c1"))
			waitFor(t, "the drop", func() bool { return l.Stats().Dropped == before+1 })
			waitLog(t, logs, "mqtt message dropped", "controller", "c1", "reason", tt.reason)
		})
	}

	// A replayed id: the first message is taken, the second dropped.
	before := l.Stats().Dropped
	for range 2 {
		mark := sim.Mark()
		sim.Do(t, `publish c1 ~/heartbeat {"v":1,"id":"dup-1","ts":"{ts}"}`)
		sim.WaitAfter(t, mark, "published", simtest.Match("published", "controller", "c1"))
	}
	waitFor(t, "the replay dropped", func() bool { return l.Stats().Dropped == before+1 })
	waitLog(t, logs, "mqtt message dropped", "controller", "c1", "reason", "replayed", "id", "dup-1")

	// The good message after all of them.
	sim.Do(t, `publish c1 ~/heartbeat {"v":1,"id":"good-1","ts":"{ts}"}`)
	waitFor(t, "the good heartbeat", func() bool { return dev.msgIDs()["good-1"] })

	ids := dev.msgIDs()
	for id := range ids {
		if strings.HasPrefix(id, "bad-") { // the simulator's own ids are HEX-N
			t.Errorf("%s reached the Device", id)
		}
	}
	n := 0
	_, _, beats, _, _ := dev.snapshot()
	for _, b := range beats {
		if b.MsgID == "dup-1" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("dup-1 reached the Device %d times, want 1", n)
	}
	if swipes, _, _, acks, _ := dev.snapshot(); len(swipes) != 0 || len(acks) != 0 {
		t.Errorf("bad swipes or acks reached the Device: %v %v", swipes, acks)
	}
	for _, e := range sim.Events() {
		if e.Name() == "decision" {
			t.Errorf("a dropped card got a decision: %v", e)
		}
	}
	for _, line := range logs.find("mqtt message dropped") {
		if len(line.Attrs["err"]) > 300 {
			t.Errorf("a drop line echoes too much input: %v", line)
		}
	}
	if got := strconv.Itoa(int(l.Stats().Dropped)); got != strconv.Itoa(len(tests)+1) {
		t.Errorf("dropped %s messages, want %d", got, len(tests)+1)
	}
}
