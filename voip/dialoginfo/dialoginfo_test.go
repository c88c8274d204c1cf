package dialoginfo

import (
	"strings"
	"testing"
)

func TestRoundTripAndSummary(t *testing.T) {
	ringing := Info{Version: 3, Entity: "sip:1002@127.0.0.1", Dialogs: []Dialog{{
		ID: "d1", CallID: "abc@1.2.3.4", LocalTag: "x", RemoteTag: "y", Direction: Recipient, State: Early,
		Remote: &Remote{Identity: "sip:1001@127.0.0.1", Target: &Target{URI: "sip:1001@127.0.0.1"}},
	}}}
	body, err := ringing.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<?xml version="1.0" encoding="UTF-8"?>`, `xmlns="urn:ietf:params:xml:ns:dialog-info"`, `version="3"`, `state="full"`, `entity="sip:1002@127.0.0.1"`, `direction="recipient"`, `<state>early</state>`, `<identity>sip:1001@127.0.0.1</identity>`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	back, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != 3 || len(back.Dialogs) != 1 || back.Dialogs[0].State != Early || back.Summary() != "ringing" {
		t.Fatalf("read back %+v (%s)", back, back.Summary())
	}
	for _, tc := range []struct {
		dialogs []Dialog
		want    string
	}{
		{nil, "idle"},
		{[]Dialog{{ID: "a", State: Terminated, Direction: Recipient}}, "idle"},
		{[]Dialog{{ID: "a", State: Confirmed, Direction: Recipient}}, "busy"},
		{[]Dialog{{ID: "a", State: Early, Direction: Initiator}}, "busy"},
	} {
		if got := (Info{Dialogs: tc.dialogs}).Summary(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.dialogs, got, tc.want)
		}
	}
	if _, err := Parse([]byte("<dialog-info")); err == nil {
		t.Error("broken XML parsed")
	}
}
