// Package cameras keeps the building's cameras: their settings (by RTSP
// URL, or filled in by an ONVIF probe), their health measured from the
// video they actually send, alarms when one goes dark, and live view in
// the console over WebRTC with the camera's H.264 passed through
// untouched.
//
// Each camera has one worker. With no viewers it samples the camera on an
// interval (DESCRIBE, then a short PLAY); with viewers it keeps one RTSP
// session, shared by all of them, and stops it a grace period after the
// last one leaves. The protocol work is in the sub-packages rtsp, h264
// and onvif, which hold no app state.
package cameras

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Errors for callers to map to user-facing codes, each wrapped with a
// sentence for the person who made the request.
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable") // the camera cannot be reached, or refused us
	ErrUnsupported = errors.New("not supported")
	ErrTooMany     = errors.New("too many") // viewers or cameras over the limit
)

// Camera states.
const (
	StateUnknown  = "unknown"  // not checked yet
	StateOnline   = "online"   // video flows as it should
	StateDegraded = "degraded" // video flows, but too slowly or without keyframes
	StateOffline  = "offline"  // no video for OfflineAfter
	StateDisabled = "disabled" // switched off by an admin
)

// Reasons given with a state, for the console (which translates them).
const (
	ReasonAuth        = "auth failed"
	ReasonUnreachable = "unreachable"
	ReasonNoVideo     = "no video"
	ReasonStalled     = "stream stalled"
	ReasonBadStream   = "bad stream"
	ReasonCodec       = "codec not supported for live view"
	ReasonLowFPS      = "low fps"
	ReasonNoKeyframe  = "no keyframe"
)

// Camera is one camera's settings. Password is never sent to the console
// (HasPassword says whether one is set) and never logged.
type Camera struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	RTSPURL      string    `json:"rtsp_url"` // without credentials
	ONVIFURL     string    `json:"onvif_url,omitempty"`
	Username     string    `json:"username,omitempty"`
	Password     string    `json:"-"`
	HasPassword  bool      `json:"has_password"`
	Transport    string    `json:"transport"` // tcp, udp or auto
	SnapshotURL  string    `json:"snapshot_url,omitempty"`
	Manufacturer string    `json:"manufacturer,omitempty"`
	Model        string    `json:"model,omitempty"`
	Firmware     string    `json:"firmware,omitempty"`
	Serial       string    `json:"serial,omitempty"`
	Profiles     []Profile `json:"profiles"`
	Profile      string    `json:"profile,omitempty"` // the ONVIF profile token in use
	Enabled      bool      `json:"enabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Profile is one ONVIF media profile of a camera.
type Profile struct {
	Token       string `json:"token"`
	Name        string `json:"name"`
	Encoding    string `json:"encoding"` // H264, H265, JPEG
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	FPS         int    `json:"fps,omitempty"`
	BitrateKbps int    `json:"bitrate_kbps,omitempty"`
	StreamURI   string `json:"stream_uri"`
	SnapshotURI string `json:"snapshot_uri,omitempty"`
}

// Input is what an admin gives to add or change a camera: an RTSP URL,
// or an ONVIF device address that a probe turns into one. A nil Password
// keeps the old one; a nil Enabled keeps the old setting (true for a new
// camera).
type Input struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	RTSPURL   string  `json:"rtsp_url"`
	ONVIFURL  string  `json:"onvif_url"`
	Username  string  `json:"username"`
	Password  *string `json:"password"`
	Transport string  `json:"transport"`
	Profile   string  `json:"profile"`
	Enabled   *bool   `json:"enabled"`
}

// Status is a camera's live state and the figures it is judged by.
type Status struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Since is when the camera entered State.
	Since        time.Time `json:"since,omitzero"`
	Codec        string    `json:"codec,omitempty"`
	Width        int       `json:"width,omitempty"`
	Height       int       `json:"height,omitempty"`
	FPS          float64   `json:"fps"`
	BitrateKbps  int       `json:"bitrate_kbps"`
	LastFrame    time.Time `json:"last_frame,omitzero"`
	LastKeyframe time.Time `json:"last_keyframe,omitzero"`
	// LiveView says whether the console can watch it (H.264 only).
	LiveView bool `json:"live_view"`
	Viewers  int  `json:"viewers"`
	// Streaming says an RTSP session is open (for viewers or a check).
	Streaming bool `json:"streaming"`
	// Sessions counts the RTSP sessions opened since civicd started.
	Sessions int64 `json:"sessions"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkRTSPURL validates an RTSP URL and splits credentials off it: the
// stored URL carries none, so it can be shown and logged.
func checkRTSPURL(raw string) (clean, user, pass string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", "", "", invalidf("the RTSP URL does not parse")
	}
	if u.Scheme != "rtsp" {
		return "", "", "", invalidf("the RTSP URL must start with rtsp:// (got %q)", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", "", "", invalidf("the RTSP URL has no host")
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u.String(), user, pass, nil
}

// checkHTTPURL validates an ONVIF device or snapshot address.
func checkHTTPURL(raw, what string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", invalidf("the %s must be an http:// or https:// address", what)
	}
	if u.User != nil {
		return "", invalidf("put the %s's user name and password in their own fields", what)
	}
	if u.Path == "" {
		u.Path = "/onvif/device_service"
	}
	return u.String(), nil
}

// check validates in against the camera it changes (zero for a new one)
// and returns the camera it describes, before any ONVIF probe.
func (in Input) check(old Camera) (Camera, error) {
	c := old
	c.ID = strings.TrimSpace(in.ID)
	if !idPattern.MatchString(c.ID) {
		return c, invalidf("a camera id is 1-64 lower-case letters, digits, - and _, starting with a letter or digit")
	}
	c.Name = strings.TrimSpace(in.Name)
	if c.Name == "" || len(c.Name) > 100 {
		return c, invalidf("a camera's name is 1-100 characters")
	}
	c.Transport = cmpOr(in.Transport, old.Transport, "tcp")
	if c.Transport != "tcp" && c.Transport != "udp" && c.Transport != "auto" {
		return c, invalidf(`the transport is "tcp", "udp" or "auto"`)
	}
	c.Username = strings.TrimSpace(in.Username)
	if in.Password != nil {
		c.Password = *in.Password
	}
	if len(c.Username) > 128 || len(c.Password) > 128 {
		return c, invalidf("the user name and password are at most 128 characters")
	}
	c.Enabled = old.ID == "" || old.Enabled
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	c.Profile = strings.TrimSpace(in.Profile)
	c.ONVIFURL = ""
	if strings.TrimSpace(in.ONVIFURL) != "" {
		u, err := checkHTTPURL(in.ONVIFURL, "ONVIF address")
		if err != nil {
			return c, err
		}
		c.ONVIFURL = u
	}
	switch {
	case strings.TrimSpace(in.RTSPURL) != "":
		clean, user, pass, err := checkRTSPURL(in.RTSPURL)
		if err != nil {
			return c, err
		}
		c.RTSPURL = clean
		if user != "" {
			c.Username, c.Password = user, pass
		}
	case c.ONVIFURL == "":
		return c, invalidf("give the camera's RTSP URL or its ONVIF address")
	}
	if c.Profiles == nil {
		c.Profiles = []Profile{}
	}
	c.HasPassword = c.Password != ""
	return c, nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
