package dtmf

import (
	"errors"
	"testing"
)

func TestFromInfo(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		want     rune
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5'},
		{"application/dtmf-relay", "Signal= #\r\nDuration= 250\r\n", '#'},
		{"Application/DTMF-Relay; charset=utf-8", "signal=*\nduration=100\n", '*'},
		{"application/dtmf-relay", "Signal=11\r\nDuration=160\r\n", '#'},
		{"application/dtmf", "9", '9'},
		{"application/dtmf", "a\r\n", 'A'},
	} {
		got, err := FromInfo(tc.ct, []byte(tc.body))
		if err != nil || got != tc.want {
			t.Errorf("%s %q: %q, %v; want %q", tc.ct, tc.body, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ ct, body string }{
		{"application/sdp", "v=0"},
		{"application/dtmf-relay", "Duration=160"},
		{"application/dtmf-relay", "Signal=55"},
		{"application/dtmf", "x"},
		{"", "5"},
	} {
		if _, err := FromInfo(tc.ct, []byte(tc.body)); !errors.Is(err, ErrNotDTMF) {
			t.Errorf("%s %q: %v, want ErrNotDTMF", tc.ct, tc.body, err)
		}
	}
}

func TestFromEvent(t *testing.T) {
	want := "0123456789*#ABCD"
	for code := range byte(16) {
		got, ok := FromEvent(code)
		if !ok || got != rune(want[code]) {
			t.Errorf("event %d: %q, want %q", code, got, want[code])
		}
	}
	if _, ok := FromEvent(16); ok {
		t.Error("event 16 (flash) read as a key")
	}
}

func FuzzFromInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		if k, err := FromInfo(ct, body); err == nil && k == 0 {
			t.Fatal("no error and no key")
		}
	})
}

// TestToEvent: every key round-trips through its event code; anything
// else has none.
func TestToEvent(t *testing.T) {
	for _, k := range "0123456789*#ABCD" {
		code, ok := ToEvent(k)
		if !ok {
			t.Fatalf("%c has no event code", k)
		}
		if back, ok := FromEvent(code); !ok || back != k {
			t.Errorf("%c -> %d -> %c", k, code, back)
		}
	}
	for _, k := range "xa E\x00" {
		if _, ok := ToEvent(k); ok {
			t.Errorf("%q has an event code", k)
		}
	}
}
