package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"civic/building"
	"civic/internal/auth"
	"civic/voip"
)

type fakeDoors struct{ unlocks []building.Actor }

func (f *fakeDoors) DoorForStation(ext string) (string, string, bool) {
	if ext == "1900" {
		return "front", "#", true
	}
	return "", "", false
}

func (f *fakeDoors) UnlockMomentary(_ context.Context, a building.Actor, door string, seconds int) (string, error) {
	if door != "front" || seconds != 0 {
		return "", errors.New("wrong door or time")
	}
	f.unlocks = append(f.unlocks, a)
	return "cmd1", nil
}

type fakePhones struct{}

func (fakePhones) Calls() []voip.Call {
	return []voip.Call{
		{ID: "station", Caller: "1900", Callee: "2000", Target: "1002", State: "answered"},
		{ID: "plain", Caller: "1001", Callee: "1002", Target: "1002", State: "answered"},
		{ID: "unlinked", Caller: "1900", Callee: "1003", Target: "1003", State: "answered"},
	}
}

func (fakePhones) Phones() []voip.Phone {
	return []voip.Phone{
		{Extension: voip.Extension{Number: "1002", User: "desk"}},
		{Extension: voip.Extension{Number: "1003"}},
	}
}

type fakeUsers struct{}

func (fakeUsers) UserByName(_ context.Context, name string) (auth.User, error) {
	if name == "desk" {
		return auth.User{Username: "desk", Role: auth.Role("facilities")}, nil
	}
	return auth.User{}, errors.New("no such user")
}

// TestDoorStation: only the answering phone's configured key on a door
// station's call opens the door, as the answering extension's user.
func TestDoorStation(t *testing.T) {
	cases := []struct {
		name string
		key  voip.DTMFEvent
		want []building.Actor
	}{
		{"the desk presses #", voip.DTMFEvent{CallID: "station", Extension: "1002", Digit: "#"},
			[]building.Actor{{User: "desk", Role: "facilities", Source: "sip:1002"}}},
		{"another key", voip.DTMFEvent{CallID: "station", Extension: "1002", Digit: "5"}, nil},
		{"the station itself presses #", voip.DTMFEvent{CallID: "station", Extension: "1900", Digit: "#"}, nil},
		{"a call from an ordinary extension", voip.DTMFEvent{CallID: "plain", Extension: "1002", Digit: "#"}, nil},
		{"a call that has ended", voip.DTMFEvent{CallID: "gone", Extension: "1002", Digit: "#"}, nil},
		// No linked user: building is asked, and refuses a role-less actor.
		{"an extension with no user", voip.DTMFEvent{CallID: "unlinked", Extension: "1003", Digit: "#"},
			[]building.Actor{{User: "sip:1003", Source: "sip:1003"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doors := &fakeDoors{}
			d := &doorStation{doors: doors, phones: fakePhones{}, accounts: fakeUsers{}, log: slog.New(slog.DiscardHandler)}
			d.key(context.Background(), c.key)
			if len(doors.unlocks) != len(c.want) {
				t.Fatalf("unlocks %+v, want %+v", doors.unlocks, c.want)
			}
			for i := range c.want {
				if doors.unlocks[i] != c.want[i] {
					t.Errorf("unlock %d as %+v, want %+v", i, doors.unlocks[i], c.want[i])
				}
			}
		})
	}
}
