package voip

import (
	"testing"
	"time"
)

func TestFloodBucket(t *testing.T) {
	f := newFlood(10) // 10/s, bursts of 20
	now := time.Unix(1000, 0)
	for i := range 20 {
		if ok, _, _ := f.allow("192.0.2.1", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, started, _ := f.allow("192.0.2.1", now)
	if ok || !started {
		t.Fatalf("request 21: ok %v started %v, want refused and a flood started", ok, started)
	}
	if ok, started, _ := f.allow("192.0.2.1", now); ok || started {
		t.Fatalf("request 22: ok %v started %v, want refused in the same flood", ok, started)
	}
	if ok, _, _ := f.allow("192.0.2.2", now); !ok {
		t.Fatal("another source was refused")
	}
	ok, _, ended := f.allow("192.0.2.1", now.Add(150*time.Millisecond)) // 1.5 tokens back
	if !ok || ended != 2 {
		t.Fatalf("after 150 ms: ok %v ended %d, want allowed with 2 refused", ok, ended)
	}
	if ok, _, _ := newFlood(-1).allow("192.0.2.1", now); !ok {
		t.Fatal("a negative rate must turn the limit off")
	}
}

// TestRegisterFlood: one address sending far more than its rate gets 503
// with Retry-After, and is served again once it slows down. (Other
// sources keep their own buckets: TestFloodBucket.)
func TestRegisterFlood(t *testing.T) {
	env := newTestService(t, Config{MaxRequestsPerSource: 20})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	codes := map[int]int{}
	retryAfter := ""
	for range 200 {
		res := p.register([]string{"<sip:1001@" + p.local + ">"}, "120", "")
		codes[res.StatusCode]++
		if res.StatusCode == 503 {
			if h := res.GetHeader("Retry-After"); h != nil {
				retryAfter = h.Value()
			}
		}
	}
	if codes[401] < 40 || codes[503] < 100 || codes[401]+codes[503] != 200 {
		t.Fatalf("answers %v: want about 40 challenges, then 503s", codes)
	}
	if retryAfter == "" {
		t.Error("503 without Retry-After")
	}
	waitFor(t, 5*time.Second, "the source served again", func() bool {
		return p.register([]string{"<sip:1001@" + p.local + ">"}, "120", "").StatusCode == 401
	})
}
