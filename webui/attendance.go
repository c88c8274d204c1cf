package webui

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"civic/conference"
	"civic/internal/auth"
)

// Attendance is what the CSV export needs from the meetings module.
type Attendance interface {
	Hosts(ctx context.Context, room string) ([]string, error)
	AttendanceOf(ctx context.Context, room string) ([]conference.Attendance, error)
}

// handleAttendanceCSV is GET /api/meetings/{room}/attendance.csv: who
// attended, from where, and when, for the meeting's host and for admins.
// It authenticates with the session cookie, like the console.
func (s *Server) handleAttendanceCSV(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.cookieSession(w, r)
	if !ok {
		return
	}
	att, ok := s.deps.Conference.(Attendance)
	if s.deps.Conference == nil || !ok {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, "meetings are not running on this server")
		return
	}
	room := r.PathValue("room")
	hosts, err := att.Hosts(r.Context(), room)
	if errors.Is(err, conference.ErrNoMeeting) {
		writeAPIError(w, http.StatusNotFound, CodeNotFound, "there is no meeting with that room number")
		return
	}
	if err != nil {
		s.log.Error("attendance export", "room", room, "err", err)
		writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not read the attendance")
		return
	}
	isHost := slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, sess.User.Username) })
	if sess.User.Role != auth.RoleAdmin && !isHost {
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "only the meeting's hosts or an admin can export its attendance")
		return
	}
	rows, err := att.AttendanceOf(r.Context(), room)
	if err != nil {
		s.log.Error("attendance export", "room", room, "err", err)
		writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not read the attendance")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="attendance-`+room+`.csv"`)
	// A UTF-8 byte order mark, so spreadsheet programs read Chinese names.
	_, _ = w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "user", "source", "joined", "left", "duration"})
	for _, a := range rows {
		left, stay := "", ""
		if !a.LeftAt.IsZero() {
			left = a.LeftAt.Format(time.RFC3339)
			stay = a.LeftAt.Sub(a.JoinedAt).Round(time.Second).String()
		}
		_ = cw.Write([]string{csvSafe(a.Name), a.User, a.Source, a.JoinedAt.Format(time.RFC3339), left, stay})
	}
	cw.Flush()
}

// cookieSession is the session of an export request's cookie. Without a
// valid one it answers 401 and reports false.
func (s *Server) cookieSession(w http.ResponseWriter, r *http.Request) (auth.Session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		writeAPIError(w, http.StatusUnauthorized, CodeAuthFailed, "sign in first")
		return auth.Session{}, false
	}
	sess, err := s.deps.Auth.Authenticate(r.Context(), ck.Value)
	if err != nil {
		writeAPIError(w, http.StatusUnauthorized, CodeAuthFailed, "sign in first")
		return auth.Session{}, false
	}
	return sess, true
}

// csvSafe keeps a cell from being read as a formula by spreadsheets: one
// that starts with = + - @, or with a tab or carriage return (OWASP's
// list), gets a leading apostrophe.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
