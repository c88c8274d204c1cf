package webui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"civic/conference"
	"civic/internal/auth"
)

// This file is the console's side of guests and the lobby: a guest's
// join (held in the lobby or let in), invite links, and the hosts'
// lobby controls. The guest's sign-in over HTTP is in guest.go.

// coHosts checks the co-hosts named for a new meeting: each must be an
// enabled official or admin. It returns their usernames as stored.
func (c *conn) coHosts(ctx context.Context, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		u, err := c.s.deps.Auth.UserByName(ctx, n)
		if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrInvalid) {
			return nil, apiErrorf(CodeInvalidParams, "co-host %q is not a user", truncate(n, 32))
		}
		if err != nil {
			return nil, err
		}
		if u.Disabled || (u.Role != auth.RoleAdmin && u.Role != auth.RoleOfficial) {
			return nil, apiErrorf(CodeInvalidParams, "co-host %q cannot host meetings (an enabled official or admin can)", u.Username)
		}
		out = append(out, u.Username)
	}
	return out, nil
}

// guestJoin is conference.join for a guest: only the room of their
// invite, and through the lobby when the meeting has one. Held in the
// lobby, the result is {lobby:true}, and lobby.admitted, lobby.denied or
// meeting.ended follow on the request's id; admitted, the client joins
// again and gets in.
func (c *conn) guestJoin(ctx context.Context, req request, room string, who conference.Identity) (reply, error) {
	rep := reply{target: "meeting " + truncate(room, 16)}
	sess := c.session()
	if room != sess.Room {
		return rep, apiErrorf(CodeNotAllowed, "your invite is for another meeting")
	}
	who.Guest, who.Host = true, false
	conf, err := c.conference()
	if err != nil {
		return rep, err
	}
	c.mu.Lock()
	busy := c.part != nil || c.waiter != nil
	c.mu.Unlock()
	if busy {
		return rep, apiErrorf(CodeConflict, "this connection is already in a meeting or its lobby")
	}
	ready := make(chan struct{})
	var w *conference.Waiter
	signal := func(s conference.Signal) {
		select {
		case <-ready:
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
		if c.waiter == w {
			c.waiter = nil // out of the lobby: admitted, denied or ended
		}
		c.mu.Unlock()
		c.sendConferenceEvent(req.ID, s)
	}
	w, m, err := conf.Knock(ctx, room, who, signal)
	if err != nil {
		return rep, err
	}
	if w == nil {
		return c.enterMeeting(req, rep.target, func(conf Conference, signal func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error) {
			return conf.Join(ctx, room, who, signal)
		})
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		w.Leave() // the socket closed meanwhile
		return rep, apiErrorf(CodeConflict, "the connection is closing")
	}
	c.waiter = w
	c.mu.Unlock()
	rep.result = LobbyWaitResult{Lobby: true, WaiterID: w.ID(), Meeting: m}
	rep.detail = "waiting in the lobby"
	rep.after = func() { close(ready) }
	return rep, nil
}

// handleConferenceInvite makes a guest invite link. The meeting's hosts
// may, from inside it or not, and so may any admin.
func (c *conn) handleConferenceInvite(ctx context.Context, req request) (reply, error) {
	var p InviteParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: "meeting " + truncate(p.Room, 16)}
	hours := p.TTLHours
	if hours == 0 {
		hours = 24
	}
	if hours < 1 || hours > 7*24 {
		return rep, apiErrorf(CodeInvalidParams, "ttl_hours must be between 1 and 168 (7 days)")
	}
	conf, err := c.conference()
	if err != nil {
		return rep, err
	}
	m, err := conf.Meeting(ctx, p.Room)
	if err != nil {
		return rep, err
	}
	sess := c.session()
	if sess.User.Role != auth.RoleAdmin && !m.HostedBy(sess.User.Username) {
		return rep, apiErrorf(CodeNotAllowed, "only the meeting's hosts or an admin can invite guests")
	}
	inv, err := conf.CreateInvite(ctx, m.Room, sess.User.Username, time.Duration(hours)*time.Hour)
	if err != nil {
		return rep, err
	}
	path := "/#/guest/" + inv.Token
	scheme := "https"
	if c.s.tlsConfig == nil {
		scheme = "http"
	}
	u := (&url.URL{Scheme: scheme, Host: c.host, Path: "/"}).String() + "#/guest/" + inv.Token
	rep.result = InviteResult{URL: u, Path: path, Token: inv.Token, ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339)}
	// The audit names the link by its expiry, never by its token.
	rep.detail = fmt.Sprintf("guest link, expires %s", inv.ExpiresAt.UTC().Format(time.RFC3339))
	return rep, nil
}

func (c *conn) handleConferenceLobby(ctx context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, p LobbyParams) (string, error) {
		return fmt.Sprintf("lobby=%v", p.Enabled), part.SetLobby(ctx, p.Enabled)
	})
}

func (c *conn) handleConferenceAdmit(_ context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, p GuestParams) (string, error) {
		return "admitted guest " + truncate(p.GuestID, 16), part.Admit(p.GuestID)
	})
}

func (c *conn) handleConferenceDeny(_ context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, p GuestParams) (string, error) {
		return "denied guest " + truncate(p.GuestID, 16), part.Deny(p.GuestID)
	})
}
