package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/internal/phonetest"
	"civic/internal/rtc/rtctest"
	"civic/voip/audio/g711"
)

// TestDialInPhone (issue 7): a real desk phone (baresip, playing a
// 440 Hz tone) dials a meeting's number, keys its PIN by DTMF and joins:
// a participant in the meeting (a Go WebRTC client) receives the phone's
// audio in PCMU and hears the tone in it. A second phone keying three
// wrong PINs is hung up, and each wrong PIN is audited.
func TestDialInPhone(t *testing.T) {
	phonetest.Lookup(t)
	d := startDaemon(t, daemonConfig{Env: []string{"CIVIC_SIP_DIGEST_ALGORITHMS=MD5", "CIVIC_SIP_RTP_PORTS=42200-42399"}})
	sipAddr := d.logField(t, "sip listening", "addr")
	ctx, cancel := context.WithTimeout(context.Background(), 2*stepTimeout)
	defer cancel()
	clients := goClients(ctx, t, d)
	admin := clients()
	for _, e := range []struct{ number, name, pw string }{{"1001", "前台 Reception", "Sip-pw-1001-abc"}, {"1002", "访客 Visitor", "Sip-pw-1002-abc"},
		{"1003", "值班室 Duty desk", "Sip-pw-1003-abc"}} {
		if err := admin.Call(ctx, "voip.extensions.create", map[string]any{"number": e.number, "name": e.name, "password": e.pw}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var created struct {
		Meeting struct{ Room string }
		DialIn  struct{ Number, PIN string } `json:"dial_in"`
	}
	if err := admin.Call(ctx, "conference.create", map[string]any{"title": "电话入会 Dial-in"}, &created); err != nil {
		t.Fatal(err)
	}
	if created.DialIn.Number != "8"+created.Meeting.Room || len(created.DialIn.PIN) != 6 {
		t.Fatalf("dial-in %+v", created.DialIn)
	}

	// The host in the meeting collects what it hears from each phone.
	var mu sync.Mutex
	heard := map[string][]int16{} // by stream id: the phone's participant
	var mime string
	host := clients()
	sess, err := host.Join(ctx, rtctest.LoopbackAPI(t), created.Meeting.Room, func(tr *webrtc.TrackRemote) {
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		mu.Lock()
		mime = tr.Codec().MimeType
		mu.Unlock()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypePCMU) {
				mu.Lock()
				heard[tr.StreamID()] = g711.DecodeUlaw(heard[tr.StreamID()], pkt.Payload)
				mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Leave(context.Background())

	dir := t.TempDir()
	tone := filepath.Join(dir, "440.wav")
	phonetest.WriteTone(t, tone, 440, 60)
	recorded := t.TempDir()
	phone := phonetest.Start(t, sipAddr, "1001", "Sip-pw-1001-abc", phonetest.Options{Tone: tone, Record: recorded})
	step(t, "the phone dials in and keys the PIN", func(t *testing.T) {
		if err := phone.Command("dial", "sip:"+created.DialIn.Number+"@"+sipAddr); err != nil {
			t.Fatal(err)
		}
		phone.WaitEvent(t, "CALL_ESTABLISHED", stepTimeout)
		for _, digit := range created.DialIn.PIN + "#" {
			if err := phone.Command("sndcode", string(digit)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond) // a person's pace; each key is its own RFC 4733 event
		}
	})

	// hears waits until one phone's stream carries a tone of freq.
	hears := func(t *testing.T, freq float64) {
		t.Helper()
		deadline := time.Now().Add(stepTimeout)
		for {
			mu.Lock()
			var share, rms float64
			for _, s := range heard {
				if n := len(s); n >= 8000 {
					if sh, r := phonetest.ToneLevel(s[n-8000:], 8000, freq); sh > share {
						share, rms = sh, r
					}
				}
			}
			m := mime
			mu.Unlock()
			if share > 0.3 && rms > 1000 {
				t.Logf("heard a phone in %s: %.0f Hz share %.2f, rms %.0f over the last second", m, freq, share, rms)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the meeting did not hear %.0f Hz (%s): best share %.2f, rms %.0f", freq, m, share, rms)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	step(t, "the meeting hears the phone's 440 Hz tone", func(t *testing.T) { hears(t, 440) })

	step(t, "the phone hears the meeting: the host's 1 kHz Opus tone, mixed and encoded for it", func(t *testing.T) {
		pkts := phonetest.OpusTone(t, 1000, 4)
		i := 0
		if err := sess.PublishSamples(ctx, webrtc.MimeTypeOpus, 20*time.Millisecond, func() []byte {
			p := pkts[i%len(pkts)]
			i++
			return p
		}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(stepTimeout)
		for {
			got, err := phonetest.Heard(recorded)
			var share, rms float64
			if n := len(got); err == nil && n >= 8000 {
				share, rms = phonetest.ToneLevel(got[n-8000:], 8000, 1000)
				own, _ := phonetest.ToneLevel(got[n-8000:], 8000, 440)
				if share > 0.3 && rms > 500 {
					t.Logf("the phone heard the host: 1000 Hz share %.2f, rms %.0f; its own 440 Hz share %.3f", share, rms, own)
					if own > 0.05 {
						t.Errorf("the phone hears itself: 440 Hz share %.3f", own)
					}
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the phone did not hear the meeting's tone (%d samples, %v): share %.2f rms %.0f", len(got), err, share, rms)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	step(t, "the host calls a phone into the meeting, which answers and is heard", func(t *testing.T) {
		tone660 := filepath.Join(dir, "660.wav")
		phonetest.WriteTone(t, tone660, 660, 60)
		deskHeard := t.TempDir()
		desk := phonetest.Start(t, sipAddr, "1003", "Sip-pw-1003-abc", phonetest.Options{Tone: tone660, AutoAnswer: true, Record: deskHeard})
		var res struct{ Number string }
		if err := host.Call(ctx, "conference.dial_out", map[string]any{"number": "1003"}, &res); err != nil || res.Number != "1003" {
			t.Fatalf("dial-out: %+v %v", res, err)
		}
		desk.WaitEvent(t, "CALL_ESTABLISHED", stepTimeout)
		hears(t, 660)
		// Phone to phone, through the mix (the first phone's G.711 through
		// the jitter buffer): the desk hears 1001's 440 Hz beside the
		// host's 1 kHz, and not its own 660 Hz.
		deadline := time.Now().Add(stepTimeout)
		for {
			got, err := phonetest.Heard(deskHeard)
			var share, own float64
			// 5 s in, the "joined" prompt it got is over.
			if n := len(got); err == nil && n >= 5*8000 {
				share, _ = phonetest.ToneLevel(got[n-8000:], 8000, 440)
				own, _ = phonetest.ToneLevel(got[n-8000:], 8000, 660)
				if share > 0.15 && own < 0.05 {
					t.Logf("the dialled-out phone hears the dial-in phone: 440 Hz share %.2f, its own 660 Hz %.3f", share, own)
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the desk did not hear the other phone: 440 Hz share %.2f, own 660 Hz %.3f (%d samples, %v)", share, own, len(got), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	step(t, "three wrong PINs hang a phone up, each audited", func(t *testing.T) {
		other := phonetest.Start(t, sipAddr, "1002", "Sip-pw-1002-abc", phonetest.Options{})
		if err := other.Command("dial", "sip:"+created.DialIn.Number+"@"+sipAddr); err != nil {
			t.Fatal(err)
		}
		other.WaitEvent(t, "CALL_ESTABLISHED", stepTimeout)
		wrong := "000000"
		if created.DialIn.PIN == wrong {
			wrong = "111111"
		}
		for try := range 3 {
			for _, digit := range wrong + "#" {
				if err := other.Command("sndcode", string(digit)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(150 * time.Millisecond)
			}
			// Wait for the audit of this try before keying the next.
			deadline := time.Now().Add(stepTimeout)
			for {
				var res struct{ Entries []auditEntry }
				if err := admin.Call(ctx, "audit.list", map[string]any{"action": "conference.dial_in", "limit": 10}, &res); err != nil {
					t.Fatal(err)
				}
				if len(res.Entries) >= try+1 {
					e := res.Entries[0]
					if e.User != "sip:1002" || e.Result != "denied" || !strings.Contains(e.Target, created.Meeting.Room) {
						t.Fatalf("audit entry %+v", e)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("wrong PIN %d not audited", try+1)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		other.WaitEvent(t, "CALL_CLOSED", stepTimeout)
	})
}
