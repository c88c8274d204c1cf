package webui

import (
	"errors"
	"fmt"

	"civic/internal/auth"
)

// apiError is an error meant for the person at the console: a code from
// the fixed list and a sentence they can act on. Internal errors never
// reach the client; they are logged and answered with internal_error.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func apiErrorf(code, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// wireError maps an error from a handler to the error sent to the client.
func (s *Server) wireError(err error) *WireError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return &WireError{Code: ae.code, Message: ae.msg}
	case errors.Is(err, auth.ErrNotFound):
		return &WireError{Code: CodeNotFound, Message: "no such user"}
	case errors.Is(err, auth.ErrUsernameTaken):
		return &WireError{Code: CodeConflict, Message: "that username is taken"}
	case errors.Is(err, auth.ErrLastAdmin):
		return &WireError{Code: CodeConflict, Message: "the last enabled admin cannot be removed, disabled or demoted"}
	case errors.Is(err, auth.ErrInvalid):
		// auth's validation errors are written for people.
		return &WireError{Code: CodeInvalidParams, Message: err.Error()}
	case errors.Is(err, auth.ErrBadCredentials):
		return &WireError{Code: CodeAuthFailed, Message: "wrong username or password"}
	}
	if we := conferenceError(err); we != nil {
		return we
	}
	if we := voipError(err); we != nil {
		return we
	}
	if we := softphoneError(err); we != nil {
		return we
	}
	if we := buildingError(err); we != nil {
		return we
	}
	if we := camerasError(err); we != nil {
		return we
	}
	s.log.Error("console request failed", "err", err)
	return &WireError{Code: CodeInternal, Message: "the server could not do that; the details are in its log"}
}
