package mqttlink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"civic/building"
	"civic/building/mqttlink/wire"
)

// checkingDevice fails the fuzz run if the link ever hands it a call
// with ids that break the protocol's rules.
type checkingDevice struct {
	t *testing.T
}

func (d checkingDevice) ids(what string, ids ...string) {
	for _, id := range ids {
		if !wire.ValidID(id) {
			d.t.Fatalf("%s with invalid id %q", what, id)
		}
	}
}

func (d checkingDevice) Authenticate(c, _ string) bool { return false }

func (d checkingDevice) Swipe(_ context.Context, s building.Swipe) (building.Decision, error) {
	d.ids("Swipe", s.Controller, s.Reader, s.Card, s.MsgID)
	if s.At.IsZero() {
		d.t.Fatal("Swipe without a time")
	}
	if s.Card == "1001" {
		return building.Decision{Granted: true, UnlockFor: 1500 * time.Millisecond}, nil
	}
	return building.Decision{}, fmt.Errorf("no")
}

func (d checkingDevice) DoorState(_ context.Context, r building.DoorReport) error {
	d.ids("DoorState", r.Controller, r.Door, r.MsgID)
	if r.Lock == "" && r.Contact == "" && r.Tamper == nil && !r.RequestToExit {
		d.t.Fatal("an empty door report")
	}
	return nil
}

func (d checkingDevice) Heartbeat(_ context.Context, c, id string, _ time.Time) error {
	d.ids("Heartbeat", c, id)
	return nil
}

func (d checkingDevice) CommandAcked(_ context.Context, a building.Ack) error {
	d.ids("CommandAcked", a.Controller, a.CommandID)
	return nil
}

// FuzzReceive feeds topic, payload and publisher through the link's
// whole receive path (admission, decoding, checks, the Device, the
// decision): nothing panics, and the Device only sees valid calls.
func FuzzReceive(f *testing.F) {
	now := time.Now().UTC().Format(time.RFC3339)
	f.Add("civic/v1/controllers/c1/heartbeat", []byte(`{"v":1,"id":"h1","ts":"`+now+`"}`), "c1")
	f.Add("civic/v1/controllers/c1/readers/r1/card", []byte(`{"v":1,"id":"s1","ts":"`+now+`","card":"1001"}`), "c1")
	f.Add("civic/v1/controllers/c1/doors/d1/state", []byte(`{"v":1,"id":"d1","ts":"`+now+`","contact":"open"}`), "c1")
	f.Add("civic/v1/controllers/c1/acks", []byte(`{"v":1,"id":"a1","ts":"`+now+`","re":"x","ok":true}`), "")
	f.Add("civic/v1/controllers/c1/status", []byte(`{"v":1,"id":"st","ts":"2001-01-01T00:00:00Z","status":"online"}`), "c1")
	f.Add("civic/v1/controllers/c2/heartbeat", []byte(`{"v":1,"id":"h1","ts":"`+now+`"}`), "c1")
	f.Add("civic/v1/controllers/c1/commands", []byte(`{}`), "c1")
	f.Add("x", []byte(`{`), "")

	l, err := New(Config{Listen: "127.0.0.1:0", ClockSkew: -1}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = l.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, topic string, payload []byte, origin string) {
		l.dev = checkingDevice{t}
		if m, ok := l.admit(topic, payload, origin); ok {
			if origin != "" && m.t.Controller != origin {
				t.Fatalf("admitted %s from %q", topic, origin)
			}
			l.handle(m)
		}
	})
}
