package webui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"civic/conference"
	"civic/internal/auth"
)

// Guests sign in with an invite link instead of a password:
//
//	POST /api/guest/invite {token}               -> where the link leads
//	POST /api/guest        {token, name, passcode} -> a guest session
//
// The session cookie is the same as a user's; the session's role is
// guest, and it may only join the invite's meeting (see protocol.go).
// Refused links and passcodes are audited as guest.invite and
// guest.session; a guest session made is audited as guest.session.

const maxGuestBody = 4 << 10

// readGuestBody decodes a small JSON body, or answers the error itself.
func readGuestBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeAPIError(w, http.StatusUnsupportedMediaType, CodeInvalidFormat, "send the request as application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGuestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeAPIError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "the request is too large")
			return false
		}
		writeAPIError(w, http.StatusBadRequest, CodeInvalidFormat, "could not read the request")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeAPIError(w, http.StatusBadRequest, CodeInvalidFormat, "the request is not valid JSON")
		return false
	}
	return true
}

// inviteRefusal answers a refused invite link: 410 for an expired one,
// 404 for an unknown one or a meeting that has ended. It reports whether
// err was such a refusal.
func (s *Server) inviteRefusal(w http.ResponseWriter, r *http.Request, action string, err error) bool {
	status, msg := 0, ""
	switch {
	case errors.Is(err, conference.ErrInviteExpired):
		status, msg = http.StatusGone, "This invite link has expired; ask the host for a new one."
	case errors.Is(err, conference.ErrNoInvite):
		status, msg = http.StatusNotFound, "This invite link is not valid; check it, or ask the host for a new one."
	case errors.Is(err, conference.ErrEnded), errors.Is(err, conference.ErrNoMeeting):
		status, msg = http.StatusNotFound, "The meeting of this invite link has ended."
	default:
		return false
	}
	s.audit(r.Context(), "", string(auth.RoleGuest), action, "invite", auditDenied, msg, clientIP(r))
	writeAPIError(w, status, CodeNotFound, msg)
	return true
}

// handleGuestInvite is POST /api/guest/invite: what the guest page shows
// before the guest gives a name (the meeting's title, whether it asks
// for a passcode).
func (s *Server) handleGuestInvite(w http.ResponseWriter, r *http.Request) {
	var req GuestInviteRequest
	if !readGuestBody(w, r, &req) {
		return
	}
	conf := s.deps.Conference
	if conf == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, "meetings are not running on this server")
		return
	}
	inv, err := conf.Invitation(r.Context(), req.Token)
	if err != nil {
		if !s.inviteRefusal(w, r, "guest.invite", err) {
			s.log.Error("guest invite", "err", err)
			writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not read the invite; the details are in its log")
		}
		return
	}
	writeJSON(w, http.StatusOK, GuestInviteResponse{
		Title: inv.Meeting.Title, Room: inv.Meeting.Room, Passcode: inv.Meeting.Passcode,
		ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339),
	})
}

// handleGuest is POST /api/guest: it checks the invite and the meeting's
// passcode, starts a guest session (until the invite expires, at most
// 12 h) and sets the session cookie.
func (s *Server) handleGuest(w http.ResponseWriter, r *http.Request) {
	source := clientIP(r)
	var req GuestRequest
	if !readGuestBody(w, r, &req) {
		return
	}
	conf := s.deps.Conference
	if conf == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, "meetings are not running on this server")
		return
	}
	ctx := r.Context()
	name := strings.TrimSpace(req.Name)
	inv, err := conf.RedeemInvite(ctx, req.Token, source, req.Passcode)
	if err != nil {
		target := "invite"
		switch {
		case s.inviteRefusal(w, r, "guest.session", err):
		case errors.Is(err, conference.ErrPasscodeLocked):
			s.audit(ctx, "", string(auth.RoleGuest), "guest.session", target, auditDenied, "too many wrong passcodes: "+truncate(name, 64), source)
			w.Header().Set("Retry-After", "300")
			writeAPIError(w, http.StatusTooManyRequests, CodeLockedOut, "too many wrong passcodes; try again in a few minutes")
		case errors.Is(err, conference.ErrPasscode):
			s.audit(ctx, "", string(auth.RoleGuest), "guest.session", target, auditFailed, "wrong passcode: "+truncate(name, 64), source)
			writeAPIError(w, http.StatusUnauthorized, CodeAuthFailed, "the meeting's passcode is missing or wrong")
		default:
			s.log.Error("guest sign-in", "err", err)
			writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not let you in; the details are in its log")
		}
		return
	}
	token, sess, err := s.deps.Auth.StartGuestSession(ctx, auth.NewGuest{
		Name: name, Room: inv.Meeting.Room, ExpiresAt: inv.ExpiresAt, Source: source, UserAgent: truncate(r.UserAgent(), 200),
	})
	if errors.Is(err, auth.ErrInvalid) {
		writeAPIError(w, http.StatusBadRequest, CodeInvalidParams, "enter a name of at most 64 characters")
		return
	}
	if err != nil {
		s.log.Error("guest session", "err", err)
		writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not let you in; the details are in its log")
		return
	}
	s.audit(context.WithoutCancel(ctx), sess.User.Username, string(auth.RoleGuest), "guest.session", "meeting "+inv.Meeting.Room, auditOK, "name "+truncate(sess.User.DisplayName, 64), source)
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		MaxAge:   int(time.Until(sess.ExpiresAt).Seconds()),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusOK, GuestResponse{Token: token, User: sess.User, Role: sess.User.Role, Room: sess.Room, ExpiresAt: sess.ExpiresAt.UTC().Format(time.RFC3339)})
}
