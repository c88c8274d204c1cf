package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"civic/building/mqttlink/simtest"
)

// TestDoorStation is ARCHITECTURE.md flow 4 end to end: a door station
// (baresip as extension 1900) calls the facilities desk (1002, linked to
// the facilities user "desk"); the desk answers and presses #, and the
// door's controller (civicsim) gets the unlock, audited as "desk". A key
// pressed on a desk with no linked user opens nothing.
func TestDoorStation(t *testing.T) {
	bin := lookBaresip(t)
	r := newBuildingRig(t, []rigDoor{{ID: "gate", Name: "大门 Gate", UnlockSeconds: 3, HeldOpenSeconds: 30, Station: "1900", StationDigit: "#"}},
		"CIVIC_SIP_DIGEST_ALGORITHMS=MD5", "CIVIC_SIP_RTP_PORTS=42400-42599")
	sipAddr := r.d.logField(t, "sip listening", "addr")
	r.call(t, "users.create", map[string]any{"username": "desk", "display_name": "值班室 Desk", "role": "facilities", "password": "desk-password-1"}, nil)
	for _, e := range []map[string]any{
		{"number": "1900", "name": "大门对讲 Gate station", "password": "station-pw-1900"},
		{"number": "1002", "name": "值班室 Duty desk", "password": "desk-pw-1002", "user": "desk"},
		{"number": "1003", "name": "访客 Visitor desk", "password": "desk-pw-1003"},
	} {
		r.call(t, "voip.extensions.create", e, nil)
	}
	station := startDeskPhone(t, bin, sipAddr, "1900", "station-pw-1900", false)
	desk := startDeskPhone(t, bin, sipAddr, "1002", "desk-pw-1002", true)
	r.d.waitRegistered(t, "1900")
	r.d.waitRegistered(t, "1002")

	mark := r.sim.Mark()
	station.command(t, "dial", "sip:1002@"+sipAddr)
	desk.waitEvent(t, "CALL_ESTABLISHED")
	station.waitEvent(t, "CALL_ESTABLISHED")
	desk.command(t, "sndcode", "#")
	r.sim.WaitAfter(t, mark, "the gate's unlock", simtest.Match("command", "door", "gate", "action", "unlock"))
	e := r.pollAudit(t, "building.unlock", func(e auditEntry) bool { return e.Target == "door:gate" })
	if e.User != "desk" || e.Role != "facilities" || e.Result != "ok" {
		t.Errorf("audit %+v, want the unlock as desk (facilities)", e)
	}
	station.command(t, "hangup", "")

	// 1003 has no linked user: its key is refused and audited as denied.
	other := startDeskPhone(t, bin, sipAddr, "1003", "desk-pw-1003", true)
	r.d.waitRegistered(t, "1003")
	station.command(t, "dial", "sip:1003@"+sipAddr)
	other.waitEvent(t, "CALL_ESTABLISHED")
	other.command(t, "sndcode", "#")
	d := r.pollAudit(t, "building.unlock", func(e auditEntry) bool { return e.Target == "door:gate" && e.Result == "denied" })
	if d.User != "sip:1003" {
		t.Errorf("denied unlock audited as %q, want sip:1003", d.User)
	}
}

// waitRegistered waits for civicd to log extension ext's registration.
func (d *daemon) waitRegistered(t *testing.T, ext string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		d.logs.mu.Lock()
		text := d.logs.buf.String()
		d.logs.mu.Unlock()
		for line := range strings.SplitSeq(text, "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "sip registered" && rec["extension"] == ext {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("extension %s did not register within %s", ext, stepTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
