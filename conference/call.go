package conference

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Browser calls (issue 7; ARCHITECTURE.md flow 5): a call between a
// console user's browser and a desk phone is a private two-party meeting.
// The browser joins it like any meeting (so the call shares the SFU's
// ports, ICE and forwarding), and voip's bridge puts the phone in it as a
// server-side participant. A private meeting is never listed or announced
// on the bus, has no dial-in number and no invite links, and only its
// host joins it from a browser.

// callRoomPrefix starts a call's room id: not 6 digits, so no dial-in
// number or typed room number can reach it.
const callRoomPrefix = "call-"

// CreateCall stores a private meeting for a browser call of host's,
// titled title, and returns it; the phone may join it (JoinLocal) before
// the browser does. End it when the call ends.
func (s *Service) CreateCall(ctx context.Context, host, title string) (Meeting, error) {
	host = strings.TrimSpace(host)
	if host == "" {
		return Meeting{}, fmt.Errorf("%w: a call needs its console user", ErrInvalid)
	}
	if utf8.RuneCountInString(title) > 100 {
		title = string([]rune(title)[:100])
	}
	now := time.UnixMilli(time.Now().UnixMilli())
	m, err := s.insertMeeting(ctx, Meeting{Room: callRoomPrefix + strings.ToLower(rand.Text()[:16]), Title: title, Host: host,
		CreatedAt: now, Private: true}, "")
	if err != nil {
		return Meeting{}, fmt.Errorf("create call: %w", err)
	}
	return m, nil
}
