package voip

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"civic/voip/b2bua"
)

// phonePair is two registered baresip phones: 1001 plays a 440 Hz tone,
// 1002 answers by itself and plays 660 Hz, and each records what it hears.
type phonePair struct {
	env        *testEnv
	a, b       *baresip
	aDir, bDir string
}

func startPair(t *testing.T, transport string) *phonePair {
	t.Helper()
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}})
	env.addExtension(t, "1001", "secret1001")
	env.addExtension(t, "1002", "secret1002")
	dir := t.TempDir()
	writeTone(t, filepath.Join(dir, "440.wav"), 440, 60)
	writeTone(t, filepath.Join(dir, "660.wav"), 660, 60)
	p := &phonePair{env: env, aDir: t.TempDir(), bDir: t.TempDir()}
	p.a = startPhone(t, env.s.Addr(), "1001", "secret1001",
		phoneOpts{Transport: transport, Tone: filepath.Join(dir, "440.wav"), Record: p.aDir})
	p.b = startPhone(t, env.s.Addr(), "1002", "secret1002",
		phoneOpts{Transport: transport, AutoAnswer: true, Tone: filepath.Join(dir, "660.wav"), Record: p.bDir})
	waitFor(t, 15*time.Second, "1001 and 1002 online", func() bool {
		return env.phone("1001").Online && env.phone("1002").Online
	})
	waitFor(t, 10*time.Second, "baresip ctrl sockets", func() bool {
		return p.a.Command("help", "") == nil && p.b.Command("help", "") == nil
	})
	return p
}

// liveCall waits for a call from caller that satisfies cond.
func (e *testEnv) liveCall(t *testing.T, caller string, what string, cond func(Call) bool) Call {
	t.Helper()
	var found Call
	waitFor(t, 15*time.Second, what, func() bool {
		for _, c := range e.s.Calls() {
			if c.Caller == caller && cond(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// record waits for the call record of call id.
func (e *testEnv) record(t *testing.T, id string) CallRecord {
	t.Helper()
	var found CallRecord
	waitFor(t, 15*time.Second, "the call record of "+id, func() bool {
		recs, err := e.s.CallRecords(context.Background(), RecordFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.CallID == id {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// TestBaresipCall: 1001 calls 1002, which answers; audio flows both ways
// through the relay, and each phone hears the other's tone (not its own,
// not silence). After 1001 hangs up the record is right.
func TestBaresipCall(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			p := startPair(t, transport)
			b := p.env.phone("1002").Bindings[0]
			if transport == "tcp" && strings.HasSuffix(b.Contact, hostOf(b.Source)+":"+portOf(b.Source)) {
				t.Fatalf("the phone's TCP source %s is its contact %s: reuse would not be tested", b.Source, b.Contact)
			}
			if err := p.a.Command("dial", "sip:1002@"+p.env.s.Addr()); err != nil {
				t.Fatal(err)
			}
			call := p.env.liveCall(t, "1001", "an answered call with audio both ways", func(c Call) bool {
				return c.State == b2bua.StateAnswered && c.RTPFromCaller >= 100 && c.RTPFromCallee >= 100
			})
			if call.Callee != "1002" || call.Target != "1002" || call.Codec != "PCMU" {
				t.Errorf("live call %+v", call)
			}
			// Each phone hears at least a second of the other's tone.
			for _, h := range []struct {
				dir  string
				freq float64
			}{{p.bDir, 440}, {p.aDir, 660}} {
				waitFor(t, 10*time.Second, "a second of audio recorded", func() bool {
					s, err := heard(h.dir)
					return err == nil && len(s) >= 12000
				})
				s, _ := heard(h.dir)
				s = s[4000:] // past the start, where jitter buffers fill
				share, rms := toneLevel(s, h.freq)
				own, _ := toneLevel(s, 1100-h.freq) // the phone's own tone: a loop, not a relay
				t.Logf("heard %d Hz at share %.3f (own tone %.3f), rms %.0f", int(h.freq), share, own, rms)
				if share < 0.3 || rms < 1000 || own > 0.05 {
					t.Errorf("heard %d Hz at share %.3f, rms %.0f: want the other phone's tone", int(h.freq), share, rms)
				}
			}
			if err := p.a.Command("hangup", ""); err != nil {
				t.Fatal(err)
			}
			rec := p.env.record(t, call.ID)
			if rec.Caller != "1001" || rec.Callee != "1002" || rec.FinalTarget != "1002" || rec.Result != b2bua.ResultAnswered ||
				rec.Codec != "PCMU" || rec.CallerTransport != transport || rec.CalleeTransport != transport {
				t.Errorf("record %+v", rec)
			}
			if rec.Answered.IsZero() || rec.Ended.Before(rec.Answered) || rec.DurationMS <= 0 || rec.RTPFromCaller < 100 || rec.RTPFromCallee < 100 {
				t.Errorf("record times or packets %+v", rec)
			}
			waitFor(t, 5*time.Second, "no live calls", func() bool { return len(p.env.s.Calls()) == 0 })
		})
	}
}

// portOf returns the port of host:port.
func portOf(hostport string) string {
	i := strings.LastIndexByte(hostport, ':')
	return hostport[i+1:]
}

// nthRecord waits for the n-th call record written (1 is the first) in a
// fresh store, and returns it.
func (e *testEnv) nthRecord(t *testing.T, n int) CallRecord {
	t.Helper()
	var found CallRecord
	waitFor(t, 20*time.Second, "call record "+itoa(n), func() bool {
		recs, err := e.s.CallRecords(context.Background(), RecordFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.ID == int64(n) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// TestBaresipEdgeCases runs the unhappy paths with real phones: 1001
// calls; 1002 rings until told to answer and takes one call at a time;
// 1003 answers by itself and takes one call at a time.
func TestBaresipEdgeCases(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}})
	for _, n := range []string{"1001", "1002", "1003", "1009"} {
		env.addExtension(t, n, "secret"+n)
	}
	tone := filepath.Join(t.TempDir(), "440.wav")
	writeTone(t, tone, 440, 60)
	p1 := startPhone(t, env.s.Addr(), "1001", "secret1001", phoneOpts{Tone: tone})
	p2 := startPhone(t, env.s.Addr(), "1002", "secret1002", phoneOpts{MaxCalls: 1})
	p3 := startPhone(t, env.s.Addr(), "1003", "secret1003", phoneOpts{AutoAnswer: true, MaxCalls: 1, Tone: tone})
	waitFor(t, 15*time.Second, "three phones online", func() bool {
		return env.phone("1001").Online && env.phone("1002").Online && env.phone("1003").Online
	})
	records := 0
	dial := func(from *baresip, number string) {
		t.Helper()
		if err := from.Command("dial", "sip:"+number+"@"+env.s.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	hangup := func(p *baresip) {
		t.Helper()
		if err := p.Command("hangup", ""); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what, caller, callee, target, result string) CallRecord {
		t.Helper()
		records++
		r := env.nthRecord(t, records)
		if r.Caller != caller || r.Callee != callee || r.FinalTarget != target || r.Result != result {
			t.Errorf("%s: record %+v, want %s -> %s (%s) %s", what, r, caller, callee, target, result)
		}
		waitFor(t, 5*time.Second, "no live calls", func() bool { return len(env.s.Calls()) == 0 })
		return r
	}

	// CANCEL before answer: 1002 rings, 1001 gives up, 1002 stops ringing.
	dial(p1, "1002")
	env.liveCall(t, "1001", "1002 ringing", func(c Call) bool { return c.State == b2bua.StateRinging && c.Target == "1002" })
	waitFor(t, 5*time.Second, "1002 told of the call", func() bool { return p2.Saw("CALL_INCOMING") })
	hangup(p1)
	expect("cancel", "1001", "1002", "1002", b2bua.ResultCancelled)
	waitFor(t, 5*time.Second, "1002 told the call is gone", func() bool { return p2.Saw("CALL_CLOSED") })

	// An admin hangs up a ringing call: 1002 stops ringing, 1001 is told.
	closed1, closed2 := p1.Count("CALL_CLOSED"), p2.Count("CALL_CLOSED")
	dial(p1, "1002")
	ringing := env.liveCall(t, "1001", "1002 ringing again", func(c Call) bool { return c.State == b2bua.StateRinging && c.Target == "1002" })
	if err := env.s.Hangup(context.Background(), ringing.ID); err != nil {
		t.Fatal(err)
	}
	expect("hang-up while ringing", "1001", "1002", "1002", b2bua.ResultCancelled)
	waitFor(t, 5*time.Second, "both phones told", func() bool {
		return p1.Count("CALL_CLOSED") > closed1 && p2.Count("CALL_CLOSED") > closed2
	})
	if p := p1.Param("CALL_CLOSED"); !strings.Contains(p, "480") {
		t.Errorf("1001's call closed with %q, want 480", p)
	}

	// An extension with no phone registered, and a number nobody has.
	dial(p1, "1009")
	expect("unregistered", "1001", "1009", "1009", b2bua.ResultUnavailable)
	dial(p1, "1999")
	expect("unknown", "1001", "1999", "", b2bua.ResultUnknown)

	// Busy: 1003 is in a call, and a second call gets 486 from it.
	dial(p1, "1003")
	first := env.liveCall(t, "1001", "1001-1003 answered", func(c Call) bool { return c.State == b2bua.StateAnswered })
	dial(p2, "1003")
	records++
	if r := env.nthRecord(t, records); r.Caller != "1002" || r.FinalTarget != "1003" || r.Result != b2bua.ResultBusy {
		t.Errorf("busy: record %+v, want 1002 -> 1003 busy", r)
	}

	// Hold and resume by re-INVITE, with audio again after the resume.
	if err := p1.Command("hold", ""); err != nil {
		t.Fatal(err)
	}
	env.liveCall(t, "1001", "the call on hold", func(c Call) bool { return c.ID == first.ID && c.State == b2bua.StateHeld })
	if err := p1.Command("resume", ""); err != nil {
		t.Fatal(err)
	}
	resumed := env.liveCall(t, "1001", "the call resumed", func(c Call) bool { return c.ID == first.ID && c.State == b2bua.StateAnswered })
	env.liveCall(t, "1001", "audio after the resume", func(c Call) bool {
		return c.ID == first.ID && c.RTPFromCaller > resumed.RTPFromCaller+25 && c.RTPFromCallee > resumed.RTPFromCallee+25
	})

	// Keys pressed on both phones reach the bus (RFC 4733 events).
	if err := p1.Command("sndcode", "5"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "1001's key on the bus", func() bool { return env.bus.digits("1001") == "5" })
	if err := p3.Command("sndcode", "#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "1003's key on the bus", func() bool { return env.bus.digits("1003") == "#" })
	hangup(p1)
	expect("hold", "1001", "1003", "1003", b2bua.ResultAnswered)

	// No answer within 5 s forwards to 1003, which answers.
	e2 := env.phone("1002").Extension
	e2.ForwardNoAnswer, e2.NoAnswerSeconds = "1003", 5
	if _, err := env.s.UpdateExtension(context.Background(), "1002", ExtensionInput{Extension: e2}); err != nil {
		t.Fatal(err)
	}
	dial(p1, "1002")
	env.liveCall(t, "1001", "forwarded to 1003 and answered", func(c Call) bool {
		return c.State == b2bua.StateAnswered && c.Target == "1003"
	})
	hangup(p1)
	expect("no answer", "1001", "1002", "1003", b2bua.ResultAnswered)

	// A ring group: 1003 answers first, and 1002 is cancelled.
	if _, err := env.s.CreateRingGroup(context.Background(), RingGroup{Number: "2000", Name: "Facilities", Strategy: StrategyAll,
		Members: []string{"1002", "1003"}, RingSeconds: 20}); err != nil {
		t.Fatal(err)
	}
	closedBefore := p2.Count("CALL_CLOSED")
	dial(p1, "2000")
	env.liveCall(t, "1001", "the group answered by 1003", func(c Call) bool { return c.State == b2bua.StateAnswered && c.Target == "1003" })
	waitFor(t, 5*time.Second, "1002 cancelled", func() bool { return p2.Count("CALL_CLOSED") > closedBefore })
	// libre reports a CANCEL of a ringing call as ECONNRESET.
	if p := p2.Param("CALL_CLOSED"); !strings.Contains(p, "reset") {
		t.Errorf("1002's call closed with %q, want a CANCEL (connection reset)", p)
	}
	hangup(p1)
	expect("ring group", "1001", "2000", "1003", b2bua.ResultAnswered)
}

// TestBaresipTransfer: 1002 answers 1001 and blind-transfers it to 1003
// (REFER); 1001 ends up talking to 1003, and 1002 is off the call. Then
// the calling side transfers: 1001 calls 1002 and hands it on to 1003.
func TestBaresipTransfer(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}})
	for _, n := range []string{"1001", "1002", "1003"} {
		env.addExtension(t, n, "secret"+n)
	}
	tone := filepath.Join(t.TempDir(), "440.wav")
	writeTone(t, tone, 440, 60)
	p1 := startPhone(t, env.s.Addr(), "1001", "secret1001", phoneOpts{Tone: tone})
	p2 := startPhone(t, env.s.Addr(), "1002", "secret1002", phoneOpts{AutoAnswer: true, Tone: tone})
	p3 := startPhone(t, env.s.Addr(), "1003", "secret1003", phoneOpts{AutoAnswer: true, Tone: tone})
	waitFor(t, 15*time.Second, "three phones online", func() bool {
		return env.phone("1001").Online && env.phone("1002").Online && env.phone("1003").Online
	})
	if err := p1.Command("dial", "sip:1002@"+env.s.Addr()); err != nil {
		t.Fatal(err)
	}
	call := env.liveCall(t, "1001", "1001-1002 answered", func(c Call) bool { return c.State == b2bua.StateAnswered && c.RTPFromCallee > 10 })
	if err := p2.Command("transfer", "sip:1003@"+env.s.Addr()); err != nil {
		t.Fatal(err)
	}
	moved := env.liveCall(t, "1001", "the call moved to 1003", func(c Call) bool { return c.ID == call.ID && c.Target == "1003" })
	waitFor(t, 10*time.Second, "1002 off the call", func() bool { return p2.Saw("CALL_CLOSED") })
	env.liveCall(t, "1001", "audio from 1003", func(c Call) bool {
		return c.ID == call.ID && c.RTPFromCallee > moved.RTPFromCallee+25 && c.RTPFromCaller > moved.RTPFromCaller+25
	})
	if !p3.Saw("CALL_ESTABLISHED") {
		t.Error("1003 never reported the call established")
	}
	if err := p1.Command("hangup", ""); err != nil {
		t.Fatal(err)
	}
	rec := env.record(t, call.ID)
	if rec.Callee != "1002" || rec.FinalTarget != "1003" || rec.Result != b2bua.ResultAnswered {
		t.Errorf("record %+v, want 1001 -> 1002, transferred to 1003", rec)
	}
	waitFor(t, 10*time.Second, "1003's call closed", func() bool { return p3.Saw("CALL_CLOSED") })

	// Now the caller transfers: 1001 calls 1002 and hands 1002 on to 1003.
	closed1, closed3 := p1.Count("CALL_CLOSED"), p3.Count("CALL_CLOSED")
	if err := p1.Command("dial", "sip:1002@"+env.s.Addr()); err != nil {
		t.Fatal(err)
	}
	second := env.liveCall(t, "1001", "1001-1002 answered again", func(c Call) bool { return c.State == b2bua.StateAnswered && c.RTPFromCallee > 10 })
	if err := p1.Command("transfer", "sip:1003@"+env.s.Addr()); err != nil {
		t.Fatal(err)
	}
	moved = env.liveCall(t, "1003", "1003 on the caller's side", func(c Call) bool { return c.ID == second.ID && c.Target == "1002" })
	waitFor(t, 10*time.Second, "1001 off the call", func() bool { return p1.Count("CALL_CLOSED") > closed1 })
	env.liveCall(t, "1003", "audio between 1003 and 1002", func(c Call) bool {
		return c.ID == second.ID && c.RTPFromCallee > moved.RTPFromCallee+25 && c.RTPFromCaller > moved.RTPFromCaller+25
	})
	if err := p3.Command("hangup", ""); err != nil {
		t.Fatal(err)
	}
	if rec := env.record(t, second.ID); rec.Caller != "1003" || rec.FinalTarget != "1002" || rec.Result != b2bua.ResultAnswered {
		t.Errorf("record %+v, want 1003 (transferred in by 1001) with 1002", rec)
	}
	waitFor(t, 10*time.Second, "1003's second call closed", func() bool { return p3.Count("CALL_CLOSED") > closed3 })
}
