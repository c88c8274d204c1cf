package e2e

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/conference/confclient"
	"civic/internal/rtc/rtctest"
)

// TestGoClientsInAMeeting runs the real daemon and two Go participants
// (confclient) over its TLS console: one publishes VP8, the other receives
// it, tagged with the publisher's participant id; leaving is announced.
func TestGoClientsInAMeeting(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), timeScale*30*time.Second)
	defer cancel()
	dial := goClients(ctx, t, d)
	a, b := dial(), dial()
	var created struct {
		Meeting struct{ Room string }
	}
	if err := a.Call(ctx, "conference.create", map[string]any{"title": "Go clients"}, &created); err != nil {
		t.Fatal(err)
	}
	api := rtctest.LoopbackAPI(t)
	got := make(chan string, 1)
	bs, err := b.Join(ctx, api, created.Meeting.Room, func(tr *webrtc.TrackRemote) {
		for i := 0; ; i++ {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			if i == 20 {
				got <- tr.StreamID()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	as, err := a.Join(ctx, api, created.Meeting.Room, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !as.Host {
		t.Error("an admin is not host of the meeting")
	}
	frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
	if err := as.PublishSamples(ctx, webrtc.MimeTypeVP8, 20*time.Millisecond, func() []byte { return frame }); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != as.ID {
			t.Fatalf("track from %q, want the publisher %q", id, as.ID)
		}
	case <-ctx.Done():
		t.Fatal("no forwarded RTP before the deadline")
	}
	if err := as.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for left := false; !left; {
		select {
		case ev, ok := <-bs.Events():
			if !ok {
				t.Fatal("events ended before participant.left")
			}
			left = ev.Kind == "participant.left"
		case <-ctx.Done():
			t.Fatal("the other participant was not told that the publisher left")
		}
	}
	if err := bs.Leave(ctx); err != nil {
		t.Fatal(err)
	}
}

// goClients signs in to d as the admin and returns a function that opens
// a Go participant's console connection; each closes with the test.
func goClients(ctx context.Context, t *testing.T, d *daemon) func() *confclient.Client {
	t.Helper()
	opts := confclient.Options{TLS: &tls.Config{InsecureSkipVerify: true}} // the daemon's self-signed certificate
	token, err := confclient.Login(ctx, d.URL, "admin", d.AdminPassword, opts)
	if err != nil {
		t.Fatal(err)
	}
	return func() *confclient.Client {
		t.Helper()
		c, err := confclient.Dial(ctx, d.URL, token, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}
