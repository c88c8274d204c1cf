package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"civic/building/mqttlink/simtest"
	"civic/internal/phonetest"
)

// TestDoorStationAnsweredInConsole is ARCHITECTURE.md flow 4 with the
// desk in the browser: the facilities user "desk" has no desk phone, so
// the door station's call to her extension (1002) rings in her console.
// She answers there, opens the call panel's keypad and presses #; the
// browser sends it as softphone.dtmf, the bridge sends it to the station
// as an RFC 4733 event, and the gate's controller (civicsim) gets the
// unlock, audited as desk. A key typed on the keyboard goes the same way.
func TestDoorStationAnsweredInConsole(t *testing.T) {
	lookBaresip(t)
	r := newBuildingRig(t, []rigDoor{{ID: "gate", Name: "大门 Gate", UnlockSeconds: 3, HeldOpenSeconds: 30, Station: "1900", StationDigit: "#"}},
		"CIVIC_SIP_DIGEST_ALGORITHMS=MD5", "CIVIC_SIP_RTP_PORTS=43000-43199")
	sipAddr := r.d.logField(t, "sip listening", "addr")
	const deskPassword = "desk-password-1"
	r.call(t, "users.create", map[string]any{"username": "desk", "display_name": "值班室 Desk", "role": "facilities", "password": deskPassword}, nil)
	for _, e := range []map[string]any{
		{"number": "1900", "name": "大门对讲 Gate station", "password": "station-pw-1900"},
		{"number": "1002", "name": "值班室 Duty desk", "password": "desk-pw-1002", "user": "desk"},
	} {
		r.call(t, "voip.extensions.create", e, nil)
	}
	// No phone registers as 1002: the console is the desk's only phone.
	// The station sends a tone, so the browser can tell when its audio
	// arrives.
	tone := filepath.Join(t.TempDir(), "440.wav")
	phonetest.WriteTone(t, tone, 440, 120)
	station := &deskPhone{phonetest.Start(t, sipAddr, "1900", "station-pw-1900", phonetest.Options{Tone: tone})}
	r.d.waitRegistered(t, "1900")

	desk := newTab(t, r.browser, "desk")
	desk.login(t, r.d.URL+"/#/building/doors", "desk", deskPassword)
	desk.poll(t, "the softphone registered", `!!window.civicSoftphone && window.civicSoftphone.state().registered`)

	step(t, "the station calls the desk: it rings in the console, the desk answers there", func(t *testing.T) {
		station.command(t, "dial", "sip:1002@"+sipAddr)
		desk.poll(t, "the incoming-call popup", `(() => {
			const p = document.querySelector('[data-testid=incoming-call]');
			return !!p && p.textContent.includes("大门对讲 Gate station") && p.textContent.includes("1900");
		})()`)
		desk.do(t, "answer", chromedp.Click(chromedp.CSS(`[data-testid=incoming-answer]`)))
		station.waitEvent(t, "CALL_ESTABLISHED")
		waitCallUp(t, desk)
		desk.poll(t, "the keypad toggle shown", `(() => {
			const k = document.querySelector('[data-testid=call-keypad-toggle]');
			return document.querySelector('[data-testid=call-state]')?.dataset.state === "answered" && !!k && !k.hidden && !k.disabled;
		})()`)
	})

	step(t, "the desk opens the keypad and presses #: the gate unlocks as desk", func(t *testing.T) {
		desk.do(t, "open the keypad",
			chromedp.Click(chromedp.CSS(`[data-testid=call-keypad-toggle]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=keypad-key][data-key="#"]`)))
		if n := evalAs[int](t, desk, `document.querySelectorAll('[data-testid=keypad-key]').length`); n != 12 {
			t.Fatalf("the keypad has %d keys, want 12", n)
		}
		keys := evalAs[string](t, desk, `[...document.querySelectorAll('[data-testid=keypad-key]')].map((k) => k.dataset.key).join("")`)
		if keys != "123456789*0#" {
			t.Errorf("the keypad's keys are %q, want a phone's 123456789*0#", keys)
		}
		mark := r.sim.Mark()
		pressed := time.Now()
		desk.do(t, "press #", chromedp.Click(chromedp.CSS(`[data-testid=keypad-key][data-key="#"]`)))
		desk.poll(t, "# sent", `document.querySelector('[data-testid=keypad-sent]')?.dataset.sent === "#"`)
		sent := time.Since(pressed)
		r.sim.WaitAfter(t, mark, "the gate's unlock", simtest.Match("command", "door", "gate", "action", "unlock"))
		t.Logf("# clicked: sent %s later, the controller got the unlock %s later", sent.Round(time.Millisecond), time.Since(pressed).Round(time.Millisecond))
		station.waitEvent(t, "CALL_DTMF_START")
		got := station.Param("CALL_DTMF_START")
		t.Logf("the station heard the key %q (RFC 4733) %s after the click", got, time.Since(pressed).Round(time.Millisecond))
		if got != "#" {
			t.Errorf("the station heard the key %q, want #", got)
		}
		e := r.pollAudit(t, "building.unlock", func(e auditEntry) bool { return e.Target == "door:gate" })
		t.Logf("audit: %+v", e)
		if e.User != "desk" || e.Role != "facilities" || e.Result != "ok" {
			t.Errorf("audit %+v, want the unlock as desk (facilities), ok", e)
		}
		if got := desk.text(t, `[data-testid=keypad-error]`); got != "" {
			t.Errorf("the keypad shows an error: %q", got)
		}
		desk.shot(t, r.shots, "console-keypad")
	})

	step(t, "a key typed on the keyboard goes too", func(t *testing.T) {
		keys := station.Count("CALL_DTMF_START")
		desk.do(t, "type 1", chromedp.KeyEvent("1"))
		desk.poll(t, "#1 sent", `document.querySelector('[data-testid=keypad-sent]')?.dataset.sent === "#1"`)
		waitCount(t, station.Phone, "CALL_DTMF_START", keys+1)
		if got := station.Param("CALL_DTMF_START"); got != "1" {
			t.Errorf("the station heard the key %q, want 1", got)
		}
	})

	step(t, "the desk hangs up", func(t *testing.T) {
		closed := station.Count("CALL_CLOSED")
		desk.do(t, "hang up", chromedp.Click(chromedp.CSS(`[data-testid=call-hangup]`)))
		waitCount(t, station.Phone, "CALL_CLOSED", closed+1)
		desk.poll(t, "the call ended in the console", `(() => { const s = document.querySelector('[data-testid=call-state]'); return !s || s.dataset.state === "ended"; })()`)
	})
	desk.checkProblems(t)
}

// waitCallUp waits until the browser call is up: answered, its room
// joined and the phone's audio arriving. When the call ends instead, it
// fails with what the call panel says.
func waitCallUp(t *testing.T, tb *tab) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		state := awaitAs[string](t, tb, `(async () => {
			const s = document.querySelector('[data-testid=call-state]')?.dataset.state ?? "none";
			if (s !== "answered") return s;
			const a = window.civicCallAudio ? (await window.civicCallAudio())[0] : null;
			return a && a.packetsReceived > 0 ? "up" : s;
		})()`)
		switch state {
		case "up":
			return
		case "none", "connecting", "ringing", "answered":
		default:
			t.Fatalf("the call is %s in the console: %q", state, tb.text(t, `[data-testid=call-error]`))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call is still %s in the console after %s, no audio from the phone", state, stepTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
