package conference

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestScheduledTime checks the limits on a meeting's scheduled time and
// that it is stored.
func TestScheduledTime(t *testing.T) {
	s := newTestService(t, Config{})
	now := time.Now()
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"ad hoc", time.Time{}, true},
		{"tomorrow", now.Add(24 * time.Hour), true},
		{"a few minutes ago (clock skew)", now.Add(-3 * time.Minute), true},
		{"an hour ago", now.Add(-time.Hour), false},
		{"in eleven months", now.Add(330 * 24 * time.Hour), true},
		{"in two years", now.Add(2 * 365 * 24 * time.Hour), false},
	}
	for _, tt := range tests {
		m, err := s.CreateMeeting(context.Background(), "chair", MeetingOptions{Title: tt.name, ScheduledAt: tt.at})
		if got := err == nil; got != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", tt.name, err)
			}
			continue
		}
		got, err := s.Meeting(context.Background(), m.Room)
		if err != nil {
			t.Fatal(err)
		}
		if want := tt.at.Truncate(time.Millisecond); !got.ScheduledAt.Equal(want) {
			t.Errorf("%s: stored scheduled_at %v, want %v", tt.name, got.ScheduledAt, want)
		}
	}
}

// TestCoHostIsHost: a co-host joins as a host (no passcode asked), sees
// the meeting among their own, and the list puts live meetings first and
// scheduled ones in time order.
func TestCoHostIsHost(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	m, err := s.CreateMeeting(ctx, "chair", MeetingOptions{Title: "Budget", Passcode: "2468", CoHosts: []string{"Deputy", " chair ", "deputy", ""}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.CoHosts, []string{"Deputy"}) {
		t.Fatalf("co-hosts %q, want [Deputy] (deduplicated, without the host)", m.CoHosts)
	}
	dep, _, _, err := s.Join(ctx, m.Room, Identity{Name: "Deputy", User: "deputy"}, func(Signal) {})
	if err != nil {
		t.Fatalf("co-host join without the passcode: %v", err)
	}
	defer dep.Leave()
	if !dep.IsHost() {
		t.Fatal("a co-host is not a host")
	}
	clerk, _, _, err := s.Join(ctx, m.Room, Identity{Name: "Clerk", User: "clerk", Passcode: "2468"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer clerk.Leave()
	if clerk.IsHost() {
		t.Fatal("someone who is not a co-host is a host")
	}
	// A guest who somehow carries a co-host's username is still no host.
	open, err := s.CreateMeeting(ctx, "chair", MeetingOptions{Title: "Open", CoHosts: []string{"guest:x"}, NoLobby: true})
	if err != nil {
		t.Fatal(err)
	}
	g, _, _, err := s.Join(ctx, open.Room, Identity{Name: "X", User: "guest:x", Guest: true}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Leave()
	if g.IsHost() {
		t.Fatal("a guest is a host")
	}

	later, _ := s.CreateMeeting(ctx, "deputy", MeetingOptions{Title: "Later", ScheduledAt: time.Now().Add(48 * time.Hour)})
	sooner, _ := s.CreateMeeting(ctx, "other", MeetingOptions{Title: "Sooner", ScheduledAt: time.Now().Add(time.Hour), CoHosts: []string{"deputy"}})
	idle, _ := s.CreateMeeting(ctx, "deputy", MeetingOptions{Title: "Idle"})
	if _, err := s.CreateMeeting(ctx, "other", MeetingOptions{Title: "Not mine"}); err != nil {
		t.Fatal(err)
	}
	mine, err := s.MyMeetings(ctx, "DEPUTY")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range mine {
		got = append(got, x.Room)
	}
	want := []string{m.Room, sooner.Room, later.Room, idle.Room}
	if !slices.Equal(got, want) {
		t.Fatalf("my meetings %v, want %v (live, then scheduled by time, then the rest)", got, want)
	}
}

// TestInvites: an invite leads to its meeting until it expires; unknown
// tokens, expired ones and ended meetings are refused; a meeting's
// passcode is asked when redeeming, with the usual lockout; only the
// token's hash is stored.
func TestInvites(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	m, err := s.CreateMeeting(ctx, "chair", MeetingOptions{Title: "Hearing", Passcode: "1357"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{-time.Hour, time.Second, 8 * 24 * time.Hour} {
		if _, err := s.CreateInvite(ctx, m.Room, "chair", ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("ttl %v: %v, want ErrInvalid", ttl, err)
		}
	}
	if _, err := s.CreateInvite(ctx, "000000", "chair", 0); !errors.Is(err, ErrNoMeeting) {
		t.Errorf("invite to no meeting: %v", err)
	}
	inv, err := s.CreateInvite(ctx, m.Room, "chair", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(inv.ExpiresAt); d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("default expiry in %v, want 24 h", d)
	}
	var leaked int
	if err := s.db.QueryRow(`SELECT count(*) FROM meeting_invites WHERE token_hash = ? OR created_by = ?`, inv.Token, inv.Token).Scan(&leaked); err != nil || leaked != 0 {
		t.Fatalf("the token itself is stored (%d rows, %v)", leaked, err)
	}
	got, err := s.Invitation(ctx, inv.Token)
	if err != nil || got.Meeting.Room != m.Room || !got.Meeting.Passcode {
		t.Fatalf("invitation: %+v %v", got, err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 43), inv.Token[:42] + "x"} {
		if _, err := s.Invitation(ctx, bad); !errors.Is(err, ErrNoInvite) {
			t.Errorf("token %q: %v, want ErrNoInvite", bad, err)
		}
	}

	// The passcode, with the lockout per guest.
	if _, err := s.RedeemInvite(ctx, inv.Token, "10.0.0.1", ""); !errors.Is(err, ErrPasscode) {
		t.Fatalf("no passcode: %v", err)
	}
	if _, err := s.RedeemInvite(ctx, inv.Token, "10.0.0.1", "1357"); err != nil {
		t.Fatalf("right passcode: %v", err)
	}
	for i := range passcodeTries {
		if _, err := s.RedeemInvite(ctx, inv.Token, "10.0.0.2", fmt.Sprint(2000+i)); !errors.Is(err, ErrPasscode) {
			t.Fatalf("wrong passcode %d: %v", i, err)
		}
	}
	if _, err := s.RedeemInvite(ctx, inv.Token, "10.0.0.2", "1357"); !errors.Is(err, ErrPasscodeLocked) {
		t.Fatalf("after five wrong passcodes: %v, want ErrPasscodeLocked", err)
	}

	// Expired.
	short, err := s.CreateInvite(ctx, m.Room, "chair", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE meeting_invites SET expires_at = ? WHERE token_hash = ?`, time.Now().Add(-time.Second).UnixMilli(), inviteHash(short.Token)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemInvite(ctx, short.Token, "10.0.0.1", "1357"); !errors.Is(err, ErrInviteExpired) {
		t.Fatalf("expired invite: %v, want ErrInviteExpired", err)
	}
	// Ended.
	if err := s.End(ctx, m.Room); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invitation(ctx, inv.Token); !errors.Is(err, ErrEnded) {
		t.Fatalf("invite to an ended meeting: %v, want ErrEnded", err)
	}
}

// signals collects one participant's or waiter's signals.
type signals chan Signal

func (c signals) fn(s Signal) { c <- s }

// next returns the next signal of the given kind, skipping others.
func (c signals) next(t *testing.T, kind string) Signal {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-c:
			if s.Kind == kind {
				return s
			}
		case <-deadline:
			t.Fatalf("no %s signal within 5 s", kind)
		}
	}
}

// waitingIDs lists the ids in a lobby.changed signal.
func waitingIDs(s Signal) []string {
	var ids []string
	for _, w := range s.Data.(LobbyState).Waiting {
		ids = append(ids, w.ID)
	}
	return ids
}

// TestLobby: a guest waits while no host is there; a host who joins sees
// them; denied, the guest is told and is out of the lobby; knocking again
// and admitted, the guest joins; a guest who disconnects leaves the
// lobby; turning the lobby off lets everyone waiting in.
func TestLobby(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	m, err := s.CreateMeeting(ctx, "chair", MeetingOptions{Title: "Open house"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Lobby {
		t.Fatal("the lobby is not on by default")
	}
	guest := Identity{Name: "Visitor", User: "guest:v1", Guest: true}
	gs := make(signals, 8)
	w, _, err := s.Knock(ctx, m.Room, guest, gs.fn)
	if err != nil || w == nil {
		t.Fatalf("knock with nobody in: %v %v, want to wait", w, err)
	}
	if _, _, _, err := s.Join(ctx, m.Room, guest, func(Signal) {}); !errors.Is(err, ErrLobby) {
		t.Fatalf("a guest joining past the lobby: %v, want ErrLobby", err)
	}
	// A console user never waits.
	if w, _, err := s.Knock(ctx, m.Room, Identity{Name: "Clerk", User: "clerk"}, func(Signal) {}); w != nil || err != nil {
		t.Fatalf("a user knocking: %v %v", w, err)
	}

	hs := make(signals, 32)
	host, _, _, err := s.Join(ctx, m.Room, Identity{Name: "Chair", User: "chair"}, hs.fn)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Leave()
	if st := host.LobbyState(); !st.Enabled || len(st.Waiting) != 1 || st.Waiting[0].ID != w.ID() || st.Waiting[0].Name != "Visitor" {
		t.Fatalf("the host's view of the lobby: %+v", st)
	}

	// Denied.
	if err := host.Deny("nobody"); !errors.Is(err, ErrNoWaiter) {
		t.Fatalf("deny an unknown id: %v", err)
	}
	if err := host.Deny(w.ID()); err != nil {
		t.Fatal(err)
	}
	gs.next(t, SignalDenied)
	if ids := waitingIDs(hs.next(t, SignalLobby)); len(ids) != 0 {
		t.Fatalf("lobby after deny: %v", ids)
	}
	if err := host.Admit(w.ID()); !errors.Is(err, ErrNoWaiter) {
		t.Fatalf("admit someone denied: %v, want ErrNoWaiter", err)
	}

	// Knocks again, admitted, joins.
	w, _, err = s.Knock(ctx, m.Room, guest, gs.fn)
	if err != nil || w == nil {
		t.Fatal(err)
	}
	if ids := waitingIDs(hs.next(t, SignalLobby)); !slices.Equal(ids, []string{w.ID()}) {
		t.Fatalf("host told %v, want the guest waiting", ids)
	}
	if err := host.Admit(w.ID()); err != nil {
		t.Fatal(err)
	}
	gs.next(t, SignalAdmitted)
	if ids := waitingIDs(hs.next(t, SignalLobby)); len(ids) != 0 {
		t.Fatalf("lobby after admit: %v", ids)
	}
	g, _, _, err := s.Join(ctx, m.Room, guest, func(Signal) {})
	if err != nil {
		t.Fatalf("join after admission: %v", err)
	}
	if g.IsHost() {
		t.Fatal("a guest is a host")
	}
	g.Leave()
	// The admission is used up.
	if _, _, _, err := s.Join(ctx, m.Room, guest, func(Signal) {}); !errors.Is(err, ErrLobby) {
		t.Fatalf("second join on one admission: %v, want ErrLobby", err)
	}

	// Disconnecting leaves the lobby.
	other := Identity{Name: "Walker", User: "guest:v2", Guest: true}
	w2, _, _ := s.Knock(ctx, m.Room, other, func(Signal) {})
	hs.next(t, SignalLobby)
	w2.Leave()
	if ids := waitingIDs(hs.next(t, SignalLobby)); len(ids) != 0 {
		t.Fatalf("lobby after the guest left: %v", ids)
	}
	if err := host.Admit(w2.ID()); !errors.Is(err, ErrNoWaiter) {
		t.Fatalf("admit a guest who left: %v", err)
	}

	// Lobby off: whoever waits is let in, and new guests walk in.
	g3s := make(signals, 4)
	if _, _, err := s.Knock(ctx, m.Room, Identity{Name: "Third", User: "guest:v3", Guest: true}, g3s.fn); err != nil {
		t.Fatal(err)
	}
	hs.next(t, SignalLobby) // Third waits
	if err := host.SetLobby(ctx, false); err != nil {
		t.Fatal(err)
	}
	g3s.next(t, SignalAdmitted)
	if st := hs.next(t, SignalLobby).Data.(LobbyState); st.Enabled || len(st.Waiting) != 0 {
		t.Fatalf("lobby after turning it off: %+v", st)
	}
	if w, _, err := s.Knock(ctx, m.Room, Identity{Name: "Fourth", User: "guest:v4", Guest: true}, func(Signal) {}); w != nil || err != nil {
		t.Fatalf("knock with the lobby off: %v %v, want to walk in", w, err)
	}
	if got, _ := s.Meeting(ctx, m.Room); got.Lobby {
		t.Fatal("the lobby setting was not stored")
	}

	// Ending the meeting tells whoever still waits.
	if err := host.SetLobby(ctx, true); err != nil {
		t.Fatal(err)
	}
	g5s := make(signals, 4)
	if w, _, err := s.Knock(ctx, m.Room, Identity{Name: "Fifth", User: "guest:v5", Guest: true}, g5s.fn); w == nil || err != nil {
		t.Fatalf("knock: %v %v", w, err)
	}
	if err := s.End(ctx, m.Room); err != nil {
		t.Fatal(err)
	}
	g5s.next(t, SignalEnded)
}
