package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseTopic(t *testing.T) {
	tests := []struct {
		name string
		want Topic
		ok   bool
	}{
		{"civic/v1/controllers/c1/status", Topic{Controller: "c1", Kind: KindStatus}, true},
		{"civic/v1/controllers/c1/heartbeat", Topic{Controller: "c1", Kind: KindHeartbeat}, true},
		{"civic/v1/controllers/c1/acks", Topic{Controller: "c1", Kind: KindAck}, true},
		{"civic/v1/controllers/c1/commands", Topic{Controller: "c1", Kind: KindCommand}, true},
		{"civic/v1/controllers/c1/doors/east-1/state", Topic{Controller: "c1", Kind: KindDoorState, Door: "east-1"}, true},
		{"civic/v1/controllers/c1/readers/r.1/card", Topic{Controller: "c1", Kind: KindCard, Reader: "r.1"}, true},
		{"civic/v1/controllers/c1/readers/r:1/decision", Topic{Controller: "c1", Kind: KindDecision, Reader: "r:1"}, true},
		{"civic/v1/controllers/+/status", Topic{}, false},
		{"civic/v1/controllers/#", Topic{}, false},
		{"civic/v1/controllers/c1/doors/+/state", Topic{}, false},
		{"civic/v1/controllers/c1/doors/a/b/state", Topic{}, false},
		{"civic/v1/controllers/c1/status/", Topic{}, false},
		{"civic/v1/controllers//status", Topic{}, false},
		{"civic/v2/controllers/c1/status", Topic{}, false},
		{"civic/v1/controllers/c1", Topic{}, false},
		{"civic/v1/controllers/c1/readers/r1", Topic{}, false},
		{"/civic/v1/controllers/c1/status", Topic{}, false},
		{"civic/v1/controllers/" + strings.Repeat("x", 65) + "/status", Topic{}, false},
		{"", Topic{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTopic(tt.name)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v ok %v", tt.name, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.name {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.name)
		}
	}
}

func TestUpstream(t *testing.T) {
	for _, k := range []Kind{KindStatus, KindHeartbeat, KindDoorState, KindCard, KindAck} {
		if !k.Upstream() {
			t.Errorf("%s is not upstream", k)
		}
	}
	for _, k := range []Kind{KindDecision, KindCommand, "bogus"} {
		if k.Upstream() {
			t.Errorf("%s is upstream", k)
		}
	}
}

func TestDecode(t *testing.T) {
	ts := `"ts":"2026-12-06T09:30:00.5+08:00"`
	at := time.Date(2026, 12, 6, 9, 30, 0, 5e8, time.FixedZone("", 8*3600))
	yes := true
	tests := []struct {
		kind    Kind
		payload string
		want    Message // nil: refused with reason
		reason  string
	}{
		{KindHeartbeat, `{"v":1,"id":"a-1",` + ts + `,"uptime_s":9}`, &Heartbeat{Header{1, "a-1", at}, 9}, ""},
		{KindHeartbeat, `{"v":1,"id":"a-1",` + ts + `,"extra":{"x":[1,2]}}`, &Heartbeat{Header: Header{1, "a-1", at}}, ""},
		{KindStatus, `{"v":1,"id":"a-2",` + ts + `,"status":"offline","reason":"will"}`, &Status{Header: Header{1, "a-2", at}, Status: "offline", Reason: "will"}, ""},
		{KindDoorState, `{"v":1,"id":"a-3",` + ts + `,"lock":"unlocked","contact":"open","tamper":true,"request_to_exit":true}`,
			&DoorState{Header{1, "a-3", at}, "unlocked", "open", &yes, true}, ""},
		{KindCard, `{"v":1,"id":"a-4",` + ts + `,"card":"0012345678","pin":"12*#"}`, &Card{Header{1, "a-4", at}, "0012345678", "12*#"}, ""},
		{KindAck, `{"v":1,"id":"a-5",` + ts + `,"re":"cmd-1","ok":true}`, &Ack{Header{1, "a-5", at}, "cmd-1", &yes, ""}, ""},
		{KindCommand, `{"v":1,"id":"cmd-1",` + ts + `,"door":"d1","action":"unlock","seconds":5}`, &Command{Header: Header{1, "cmd-1", at}, Door: "d1", Action: "unlock", Seconds: 5}, ""},
		{KindDecision, `{"v":1,"id":"x-1",` + ts + `,"re":"a-4","granted":true,"reason":"granted","unlock_s":5}`, &Decision{Header: Header{1, "x-1", at}, Re: "a-4", Granted: true, Reason: "granted", UnlockS: 5}, ""},

		{KindHeartbeat, ``, nil, ReasonMalformed},
		{KindHeartbeat, `null`, nil, ReasonVersion},
		{KindHeartbeat, `"x"`, nil, ReasonMalformed},
		{KindHeartbeat, `{"v":1,"id":"a",` + ts + `} {}`, nil, ReasonMalformed},
		{KindHeartbeat, `{"v":"1","id":"a",` + ts + `}`, nil, ReasonMalformed},
		{KindHeartbeat, `{"v":1.5,"id":"a",` + ts + `}`, nil, ReasonMalformed},
		{KindHeartbeat, `{"v":0,"id":"a",` + ts + `}`, nil, ReasonVersion},
		{KindHeartbeat, `{"v":2,"id":"a",` + ts + `}`, nil, ReasonVersion},
		{KindHeartbeat, `{"v":1,` + ts + `}`, nil, ReasonID},
		{KindHeartbeat, `{"v":1,"id":"a/b",` + ts + `}`, nil, ReasonID},
		{KindHeartbeat, `{"v":1,"id":"` + strings.Repeat("a", 65) + `",` + ts + `}`, nil, ReasonID},
		{KindHeartbeat, `{"v":1,"id":"a"}`, nil, ReasonTS},
		{KindHeartbeat, `{"v":1,"id":"a","ts":"2026-12-06 09:30:00"}`, nil, ReasonTS},
		{KindHeartbeat, `{"v":1,"id":"a","ts":12}`, nil, ReasonTS},
		{KindHeartbeat, `{"v":1,"id":"a","ts":"0001-01-01T00:00:00Z"}`, nil, ReasonTS},
		{KindStatus, `{"v":1,"id":"a",` + ts + `}`, nil, ReasonField},
		{KindStatus, `{"v":1,"id":"a",` + ts + `,"status":"online","fail_mode":"maybe"}`, nil, ReasonField},
		{KindDoorState, `{"v":1,"id":"a",` + ts + `}`, nil, ReasonField},
		{KindDoorState, `{"v":1,"id":"a",` + ts + `,"contact":"ajar"}`, nil, ReasonField},
		{KindCard, `{"v":1,"id":"a",` + ts + `,"card":""}`, nil, ReasonField},
		{KindCard, `{"v":1,"id":"a",` + ts + `,"card":"1 2"}`, nil, ReasonField},
		{KindCard, `{"v":1,"id":"a",` + ts + `,"card":"1","pin":"12345678901234567"}`, nil, ReasonField},
		{KindAck, `{"v":1,"id":"a",` + ts + `,"ok":true}`, nil, ReasonField},
		{KindAck, `{"v":1,"id":"a",` + ts + `,"re":"c","ok":false,"error":"` + strings.Repeat("e", 257) + `"}`, nil, ReasonField},
		{KindCommand, `{"v":1,"id":"a",` + ts + `,"door":"d","action":"dance"}`, nil, ReasonField},
		{KindCommand, `{"v":1,"id":"a",` + ts + `,"door":"d","action":"mode"}`, nil, ReasonField},
		{KindCommand, `{"v":1,"id":"a",` + ts + `,"door":"d","action":"unlock","seconds":-1}`, nil, ReasonField},
		{KindCommand, `{"v":1,"id":"a",` + ts + `,"door":"d","action":"unlock","until":"soon"}`, nil, ReasonTS},
		{KindDecision, `{"v":1,"id":"a",` + ts + `,"re":"b","granted":true,"unlock_s":5}`, nil, ReasonField},
		{"bogus", `{"v":1,"id":"a",` + ts + `}`, nil, ReasonMalformed},
		{KindHeartbeat, `{"v":1,"id":"a",` + ts + `,"pad":"` + strings.Repeat("x", MaxPayload) + `"}`, nil, ReasonOversized},
	}
	for _, tt := range tests {
		got, err := Decode(tt.kind, []byte(tt.payload))
		if tt.want != nil {
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%s, %s) = %+v, %v; want %+v", tt.kind, tt.payload, got, err, tt.want)
			}
			continue
		}
		var we *Error
		if !errors.As(err, &we) || we.Reason != tt.reason {
			t.Errorf("Decode(%s, %.80s) = %+v, %v; want refusal %s", tt.kind, tt.payload, got, err, tt.reason)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	no := false
	msgs := map[Kind]Message{
		KindStatus:   &Status{Header: NewHeader("s", at), Status: StatusOnline, FailMode: FailSafe},
		KindAck:      &Ack{Header: NewHeader("a", at), Re: "c", OK: &no, Error: "unknown door"},
		KindCommand:  &Command{Header: NewHeader("c", at), Door: "d", Action: ActionUnlock, Until: at.Add(time.Hour)},
		KindDecision: &Decision{Header: NewHeader("x", at), Re: "y", Reason: "no_access"},
	}
	for k, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", m, err)
		}
		got, err := Decode(k, b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %s: %+v, %v; want %+v", b, got, err, m)
		}
	}
	if _, err := Encode(&Command{Header: NewHeader("c", at), Door: "d", Action: "fly"}); err == nil {
		t.Error("Encode took a bad command")
	}
	if b, _ := Encode(&Command{Header: NewHeader("c", at), Door: "d", Action: ActionLock}); strings.Contains(string(b), "until") {
		t.Errorf("a zero until is on the wire: %s", b)
	}
}
