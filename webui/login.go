package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"civic/internal/auth"
)

const (
	sessionCookie = "civic_session"
	maxLoginBody  = 4 << 10
)

// handleLogin is POST /api/login: it checks the password, sets the session
// cookie and returns the token. Every failure is audited.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	source := clientIP(r)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeAPIError(w, http.StatusUnsupportedMediaType, CodeInvalidFormat, "send the login as application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.log.Info("login body too large", "source", source, "limit", maxLoginBody)
			writeAPIError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "the login request is too large")
			return
		}
		writeAPIError(w, http.StatusBadRequest, CodeInvalidFormat, "could not read the login request")
		return
	}
	var req LoginRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Username == "" {
		writeAPIError(w, http.StatusBadRequest, CodeInvalidFormat, `send {"username","password"} as JSON`)
		return
	}
	name := truncate(req.Username, 64)
	token, sess, err := s.deps.Auth.Login(r.Context(), req.Username, req.Password, source, truncate(r.UserAgent(), 200))
	if err != nil {
		s.metrics.loginFailures.Inc()
		var lo *auth.LockoutError
		switch {
		case errors.As(err, &lo):
			s.audit(r.Context(), name, "", "auth.login", name, auditDenied, "locked out by "+lo.Scope+" until "+lo.Until.UTC().Format(time.RFC3339), source)
			wait := int(math.Ceil(time.Until(lo.Until).Seconds()))
			if wait < 1 {
				wait = 1
			}
			w.Header().Set("Retry-After", fmt.Sprint(wait))
			writeAPIError(w, http.StatusTooManyRequests, CodeLockedOut, "too many failed logins; try again later")
		case errors.Is(err, auth.ErrBadCredentials):
			s.audit(r.Context(), name, "", "auth.login", name, auditFailed, "wrong username or password", source)
			writeAPIError(w, http.StatusUnauthorized, CodeAuthFailed, "wrong username or password")
		default:
			s.log.Error("login", "err", err)
			writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not sign you in; the details are in its log")
		}
		return
	}
	s.audit(r.Context(), sess.User.Username, string(sess.User.Role), "auth.login", sess.User.Username, auditOK, "", source)
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
	writeJSON(w, http.StatusOK, LoginResponse{Token: token, User: sess.User, Role: sess.User.Role})
}

// handleLogout is POST /api/logout: it revokes the session of the cookie
// or bearer token and closes that session's websockets.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	token := ""
	if ck, err := r.Cookie(sessionCookie); err == nil {
		token = ck.Value
	} else if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	if token == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sess, err := s.deps.Auth.Authenticate(r.Context(), token)
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.deps.Auth.Logout(r.Context(), token); err != nil {
		s.log.Error("logout", "err", err)
		writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not sign you out")
		return
	}
	s.closeTokenConns(token, "logged out")
	s.audit(r.Context(), sess.User.Username, string(sess.User.Role), "session.logout", sess.User.Username, auditOK, "", clientIP(r))
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, struct {
		Error WireError `json:"error"`
	}{WireError{Code: code, Message: msg}})
}
