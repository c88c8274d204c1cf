package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/conference"
	"civic/internal/audit"
	"civic/voip/confbridge"
)

// phoneMeetings gives the meeting bridge (voip/confbridge) what it needs
// of conference: dial-in numbers and PINs, phone participants and the
// rooms' audio.
type phoneMeetings struct {
	c   *conference.Service
	log *slog.Logger
}

var _ confbridge.Meetings = phoneMeetings{}

func (m phoneMeetings) RoomOfNumber(number string) string { return m.c.RoomOfNumber(number) }

func (m phoneMeetings) OpenCall(ctx context.Context, user, title string) (string, error) {
	c, err := m.c.CreateCall(ctx, user, title)
	return c.Room, err
}

func (m phoneMeetings) EndCall(room string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.c.End(ctx, room); err != nil && !errors.Is(err, conference.ErrEnded) && !errors.Is(err, conference.ErrNoMeeting) {
		m.log.Error("end a browser call's room", "room", room, "err", err)
	}
}

func (m phoneMeetings) CheckPIN(ctx context.Context, room, pin string) error {
	_, err := m.c.CheckDialIn(ctx, room, pin)
	return bridgeError(err)
}

func (m phoneMeetings) JoinPhone(ctx context.Context, room, name, codec string, signal func(kind string)) (confbridge.Leg, error) {
	var self string
	p, _, err := m.c.JoinLocal(ctx, room, conference.Identity{Name: name, User: "phone:" + name, Source: "sip"}, func(s conference.Signal) {
		switch s.Kind {
		case conference.SignalRemoved:
			signal("removed")
		case conference.SignalEnded:
			signal("ended")
		case conference.SignalUpdated:
			data, _ := s.Data.(map[string]any)
			if info, ok := data["participant"].(conference.PeerInfo); ok && info.ID == self {
				if info.Muted {
					signal("muted")
				} else {
					signal("unmuted")
				}
			}
		}
	})
	if err != nil {
		return nil, bridgeError(err)
	}
	self = p.ID()
	capability := webrtc.RTPCodecCapability{MimeType: "audio/" + codec, ClockRate: 8000}
	track, err := p.PublishAudio(capability)
	if err != nil {
		p.Leave()
		return nil, err
	}
	return phoneLeg{p: p, track: track}, nil
}

func (m phoneMeetings) TapAudio(room string, f func(from, mime string, pkt *rtp.Packet)) (func(), error) {
	stop, err := m.c.TapAudio(room, func(from string, codec webrtc.RTPCodecCapability, pkt *rtp.Packet) {
		f(from, strings.ToLower(codec.MimeType), pkt)
	})
	return stop, bridgeError(err)
}

// bridgeError maps conference's errors to the bridge's.
func bridgeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, conference.ErrBadPIN):
		return confbridge.ErrBadPIN
	case errors.Is(err, conference.ErrNoMeeting), errors.Is(err, conference.ErrEnded):
		return confbridge.ErrNoMeeting
	case errors.Is(err, conference.ErrNotStarted):
		return confbridge.ErrNotStarted
	case errors.Is(err, conference.ErrLocked):
		return confbridge.ErrLocked
	}
	return err
}

// phoneLeg is a phone's participant and its published audio.
type phoneLeg struct {
	p     *conference.Participant
	track *conference.LocalTrack
}

func (l phoneLeg) ID() string { return l.p.ID() }

func (l phoneLeg) WriteRTP(pkt *rtp.Packet, level int) error { return l.track.WriteRTP(pkt, level) }

func (l phoneLeg) RaiseHand(raised bool) { l.p.SetHand(raised) }

func (l phoneLeg) Leave() { l.p.Leave() }

// pinAudit records a wrong dial-in PIN.
func pinAudit(log *audit.Log) func(room, caller string, tries int) {
	return func(room, caller string, tries int) {
		_ = log.Append(context.Background(), audit.Entry{User: "sip:" + caller, Role: "phone", Action: "conference.dial_in",
			Target: "meeting " + room, Result: audit.ResultDenied, Detail: fmt.Sprintf("wrong PIN, try %d", tries), Source: "sip"})
	}
}

// loopbackOf is addr with an unspecified host (all interfaces) made
// 127.0.0.1: where the bridge reaches the SIP side it runs beside.
func loopbackOf(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
