package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseSimLine(t *testing.T) {
	ptr := func(b bool) *bool { return &b }
	tests := []struct {
		name    string
		line    string
		want    simEvent
		latency time.Duration
		wantErr bool
	}{
		{
			name:    "decision",
			line:    `{"ts":"2026-12-06T09:30:00.123456789Z","event":"decision","controller":"c3","reader":"c3-d7-in","re":"ab12-5","id":"x-1","granted":true,"reason":"granted","door":"c3-d7","unlock_s":5,"cardholder":"ch-4","card":"10000004","latency_us":1234}`,
			want:    simEvent{Event: "decision", Controller: "c3", Reader: "c3-d7-in", Re: "ab12-5", ID: "x-1", Granted: ptr(true), Reason: "granted", Door: "c3-d7"},
			latency: 1234 * time.Microsecond,
		},
		{
			name: "late decision",
			line: `{"ts":"2026-12-06T09:30:00Z","event":"decision","controller":"c1","re":"ab12-9","granted":false,"reason":"no_access","late":true}`,
			want: simEvent{Event: "decision", Controller: "c1", Re: "ab12-9", Granted: ptr(false), Reason: "no_access", Late: true},
		},
		{
			name: "swipe",
			line: `{"ts":"2026-12-06T09:30:00Z","event":"swipe","controller":"c1","reader":"c1-d1-out","card":"1001","id":"ab12-3","sent":true}`,
			want: simEvent{Event: "swipe", Controller: "c1", Reader: "c1-d1-out", ID: "ab12-3", Sent: ptr(true)},
		},
		{
			name: "door",
			line: `{"ts":"2026-12-06T09:30:00Z","event":"door","controller":"c2","door":"c2-d1","id":"ab12-4","lock":"unlocked","contact":"open","tamper":false,"request_to_exit":false,"why":"open","sent":true}`,
			want: simEvent{Event: "door", Controller: "c2", Door: "c2-d1", ID: "ab12-4", Lock: "unlocked", Contact: "open", Why: "open", Sent: ptr(true)},
		},
		{
			name: "ack",
			line: `{"ts":"2026-12-06T09:30:00Z","event":"ack","controller":"c2","re":"cmd-1","id":"ab12-5","ok":true,"error":"","repeat":false,"sent":true}`,
			want: simEvent{Event: "ack", Controller: "c2", Re: "cmd-1", ID: "ab12-5", OK: ptr(true), Sent: ptr(true)},
		},
		{
			name: "error",
			line: `{"ts":"2026-12-06T09:30:00Z","event":"error","line":"open x","error":"no door \"x\""}`,
			want: simEvent{Event: "error", Line: "open x", Error: `no door "x"`},
		},
		{name: "not JSON", line: `civicsim: bad flag`, wantErr: true},
		{name: "no event", line: `{"ts":"2026-12-06T09:30:00Z"}`, wantErr: true},
		{name: "bad ts", line: `{"ts":"yesterday","event":"swipe"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSimLine([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSimLine: err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.TS.IsZero() {
				t.Errorf("TS is zero")
			}
			if got.Latency() != tt.latency {
				t.Errorf("Latency() = %v, want %v", got.Latency(), tt.latency)
			}
			got.TS, got.LatencyUS = time.Time{}, nil
			if !equalSimEvent(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalSimEvent(a, b simEvent) bool {
	eq := func(x, y *bool) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	if !eq(a.Granted, b.Granted) || !eq(a.Sent, b.Sent) || !eq(a.OK, b.OK) {
		return false
	}
	a.Granted, a.Sent, a.OK, b.Granted, b.Sent, b.OK = nil, nil, nil, nil, nil, nil
	return a == b
}

func TestParseDoorEvent(t *testing.T) {
	tests := []struct {
		name                string
		msg                 string
		kind, door, contact string
		doors               int
		ok                  bool
	}{
		{"changed", `{"id":1,"type":"event","event":{"topic":"building.doors","kind":"building.door_changed","seq":9,"at":"x","data":{"door":{"id":"c1-d2","lock":"unlocked","contact":"open"}}}}`,
			"building.door_changed", "c1-d2", "open", 0, true},
		{"snapshot", `{"id":1,"type":"event","event":{"topic":"building.doors","kind":"snapshot","data":{"doors":[{"id":"a"},{"id":"b"}],"lockdowns":[]}}}`,
			"snapshot", "", "", 2, true},
		{"other topic", `{"id":2,"type":"event","event":{"topic":"building.alarms","kind":"building.alarm_raised","data":{}}}`, "", "", "", 0, false},
		{"result", `{"id":1,"type":"result","success":true,"result":{"topics":["building.doors"]}}`, "", "", "", 0, false},
		{"garbage", `not json`, "", "", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, door, contact, n, ok := parseDoorEvent([]byte(tt.msg))
			if kind != tt.kind || door != tt.door || contact != tt.contact || n != tt.doors || ok != tt.ok {
				t.Errorf("parseDoorEvent = %q, %q, %q, %d, %v; want %q, %q, %q, %d, %v",
					kind, door, contact, n, ok, tt.kind, tt.door, tt.contact, tt.doors, tt.ok)
			}
		})
	}
}

func TestLatencyStats(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		want latStats
	}{
		{"none", nil, latStats{}},
		{"one", ms(7), latStats{N: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"hundred", ms(hundred...), latStats{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := latencyStats(tt.in); got != tt.want {
				t.Errorf("latencyStats = %+v, want %+v", got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("latencyStats reordered its input")
			}
		})
	}
}

func TestPickBuilding(t *testing.T) {
	tests := []struct {
		in, rest string
		parts    []string
	}{
		{"building", "", []string{"building-swipes", "building-fanout"}},
		{"building-fanout", "", []string{"building-fanout"}},
		{"a, building-swipes,sip", "a,sip", []string{"building-swipes"}},
		{"building,building-swipes", "", []string{"building-swipes", "building-fanout"}},
		{"all", "all", nil},
	}
	for _, tt := range tests {
		rest, parts := pickBuilding(tt.in)
		if rest != tt.rest || !slices.Equal(parts, tt.parts) {
			t.Errorf("pickBuilding(%q) = %q, %v; want %q, %v", tt.in, rest, parts, tt.rest, tt.parts)
		}
	}
}

func TestSimDoorIDs(t *testing.T) {
	ctrls, doors := simDoorIDs(2, 3)
	if want := []string{"c1", "c2"}; !slices.Equal(ctrls, want) {
		t.Errorf("controllers = %v, want %v", ctrls, want)
	}
	if want := []string{"c1-d1", "c1-d2", "c1-d3", "c2-d1", "c2-d2", "c2-d3"}; !slices.Equal(doors, want) {
		t.Errorf("doors = %v, want %v", doors, want)
	}
}

func TestChangeLogMatch(t *testing.T) {
	l := newChangeLog(4)
	t0 := time.Unix(100, 0)
	l.add(doorChange{door: "c1-d1", contact: "open", sent: t0})
	l.add(doorChange{door: "c1-d2", contact: "open", sent: t0.Add(time.Second)})
	l.add(doorChange{door: "c1-d1", contact: "closed", sent: t0.Add(2 * time.Second)})
	tests := []struct {
		door, contact string
		i             int
		sent          time.Time
		ok            bool
	}{
		{"c1-d1", "closed", 2, t0.Add(2 * time.Second), true},
		{"c1-d1", "open", 0, time.Time{}, false}, // superseded: a late event of the old change is not counted again
		{"c1-d2", "open", 1, t0.Add(time.Second), true},
		{"c1-d3", "open", 0, time.Time{}, false},
	}
	for _, tt := range tests {
		i, sent, ok := l.match(tt.door, tt.contact)
		if i != tt.i || !sent.Equal(tt.sent) || ok != tt.ok {
			t.Errorf("match(%s, %s) = %d, %v, %v; want %d, %v, %v", tt.door, tt.contact, i, sent, ok, tt.i, tt.sent, tt.ok)
		}
	}
}

func TestSimCommandLine(t *testing.T) {
	s := &simProc{args: []string{"building", "--cards", "1,2,3,4,5,6,7,8,9,10", "--seed", "1"}}
	if got, want := s.CommandLine(), "civicsim building --cards 1,2,...(10 cards) --seed 1"; got != want {
		t.Errorf("CommandLine() = %q, want %q", got, want)
	}
}
