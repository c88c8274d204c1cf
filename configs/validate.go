package configs

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Validate checks every value and returns the first problem as an *Error,
// in the order of the keys in docs/configuration.md. It also loads the
// time zone returned by Location. Load calls it; call it again after
// changing a loaded Config.
func (c *Config) Validate() error {
	checks := []func() *Error{
		c.checkGeneral,
		c.HTTP.check,
		c.WS.check,
		c.WebRTC.check,
		c.Meetings.check,
		c.SIP.check,
		c.MQTT.check,
		c.Cameras.check,
		c.Log.check,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

const (
	expectHostPort = `host:port such as ":8443" or "127.0.0.1:8443" (port 0 picks a free port)`
	expectTimezone = `an IANA time zone name such as "Asia/Shanghai" or "UTC"`
)

func (c *Config) checkGeneral() *Error {
	if strings.TrimSpace(c.DataDir) == "" {
		return &Error{Key: "data_dir", Value: c.DataDir, Expected: "a directory path such as \"./data\""}
	}
	if c.Timezone == "" {
		return &Error{Key: "timezone", Value: c.Timezone, Expected: expectTimezone}
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return &Error{Key: "timezone", Value: c.Timezone, Expected: expectTimezone}
	}
	c.loc = loc
	return nil
}

func (h *HTTPConfig) check() *Error {
	if err := checkHostPort("http.listen", h.Listen, false); err != nil {
		return err
	}
	switch h.TLS {
	case TLSAuto, TLSOff, TLSFiles:
	default:
		return &Error{Key: "http.tls", Value: h.TLS, Expected: "one of auto, off, files"}
	}
	files := []struct{ key, path, what string }{
		{"http.cert_file", h.CertFile, "certificate"},
		{"http.key_file", h.KeyFile, "private key"},
	}
	for _, f := range files {
		switch {
		case h.TLS == TLSFiles && f.path == "":
			return &Error{Key: f.key, Value: f.path, Expected: fmt.Sprintf("the path of a PEM %s file when http.tls = files", f.what)}
		case h.TLS == TLSFiles:
			if err := checkReadableFile(f.path); err != nil {
				return &Error{Key: f.key, Value: f.path, Expected: fmt.Sprintf("a readable PEM %s file (%v)", f.what, err)}
			}
		case h.TLS == TLSAuto && f.path != "":
			return &Error{Key: f.key, Value: f.path, Expected: "empty when http.tls = auto (set http.tls to files to use this file)"}
		}
	}
	if h.TLS == TLSAuto && len(h.Hostnames) == 0 {
		return &Error{Key: "http.hostnames", Value: h.Hostnames, Expected: "at least one DNS name or IP for the self-signed certificate when http.tls = auto"}
	}
	for i, name := range h.Hostnames {
		if !isIP(name) && !isDNSName(name, true) {
			return &Error{Key: fmt.Sprintf("http.hostnames[%d]", i), Value: name, Expected: `a DNS name such as "console.example.org" or an IP address`}
		}
	}
	for i, origin := range h.AllowedOrigins {
		if !isOrigin(origin) {
			return &Error{Key: fmt.Sprintf("http.allowed_origins[%d]", i), Value: origin, Expected: `an origin such as "https://console.example.org:8443" (scheme://host[:port] in lower case, no path)`}
		}
	}
	if h.StaticDir != "" {
		st, err := os.Stat(h.StaticDir)
		if err != nil || !st.IsDir() {
			return &Error{Key: "http.static_dir", Value: h.StaticDir, Expected: "empty or an existing directory"}
		}
	}
	if h.SessionTTL < time.Minute {
		return &Error{Key: "http.session_ttl", Value: h.SessionTTL, Expected: "a duration of at least 1m"}
	}
	l := h.Login
	if l.MaxFailuresPerUser < 1 {
		return &Error{Key: "http.login.max_failures_per_user", Value: l.MaxFailuresPerUser, Expected: "an integer of at least 1"}
	}
	if l.MaxFailuresPerSource < 1 {
		return &Error{Key: "http.login.max_failures_per_source", Value: l.MaxFailuresPerSource, Expected: "an integer of at least 1"}
	}
	if l.Window < time.Second {
		return &Error{Key: "http.login.window", Value: l.Window, Expected: "a duration of at least 1s"}
	}
	if l.Lockout < time.Second {
		return &Error{Key: "http.login.lockout", Value: l.Lockout, Expected: "a duration of at least 1s"}
	}
	return nil
}

// Bounds of ws.max_message_bytes.
const (
	minMessageBytes = 1024
	maxMessageBytes = 16 << 20
)

func (w *WSConfig) check() *Error {
	if w.MaxMessageBytes < minMessageBytes || w.MaxMessageBytes > maxMessageBytes {
		return &Error{Key: "ws.max_message_bytes", Value: w.MaxMessageBytes, Expected: fmt.Sprintf("an integer from %d to %d", minMessageBytes, maxMessageBytes)}
	}
	if math.IsNaN(w.Rate) || math.IsInf(w.Rate, 0) || w.Rate <= 0 {
		return &Error{Key: "ws.rate", Value: w.Rate, Expected: "a number of messages per second greater than 0"}
	}
	if w.Burst < 1 {
		return &Error{Key: "ws.burst", Value: w.Burst, Expected: "an integer of at least 1"}
	}
	return nil
}

func (w *WebRTCConfig) check() *Error {
	ports := []struct {
		key  string
		port int
	}{{"webrtc.udp_port", w.UDPPort}, {"webrtc.tcp_port", w.TCPPort}}
	for _, p := range ports {
		if p.port < 0 || p.port > 65535 {
			return &Error{Key: p.key, Value: p.port, Expected: "a port number 1-65535, or 0 for any free port"}
		}
	}
	if w.PublicIP != "" {
		ip := net.ParseIP(w.PublicIP)
		if ip == nil || ip.IsUnspecified() {
			return &Error{Key: "webrtc.public_ip", Value: w.PublicIP, Expected: `empty or an IP address such as "203.0.113.10"`}
		}
	}
	for i, name := range w.Interfaces {
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t\r\n") {
			return &Error{Key: fmt.Sprintf("webrtc.interfaces[%d]", i), Value: name, Expected: `a network interface name such as "eth0"`}
		}
	}
	for i, s := range w.ICEServers {
		if err := s.check(fmt.Sprintf("webrtc.ice_servers[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *ICEServer) check(key string) *Error {
	if len(s.URLs) == 0 {
		return &Error{Key: key + ".urls", Value: s.URLs, Expected: `at least one URL such as "stun:stun.example.org:3478"`}
	}
	turn := false
	for i, u := range s.URLs {
		scheme, rest, ok := strings.Cut(u, ":")
		switch {
		case ok && rest != "" && (scheme == "stun" || scheme == "stuns"):
		case ok && rest != "" && (scheme == "turn" || scheme == "turns"):
			turn = true
		default:
			return &Error{Key: fmt.Sprintf("%s.urls[%d]", key, i), Value: u, Expected: "a URL starting with stun:, stuns:, turn: or turns:"}
		}
	}
	if turn && s.Username == "" {
		return &Error{Key: key + ".username", Value: s.Username, Expected: "a username, which browsers require for turn: and turns: URLs"}
	}
	if turn && s.Credential == "" {
		return &Error{Key: key + ".credential", Value: s.Credential, Expected: "a credential, which browsers require for turn: and turns: URLs"}
	}
	return nil
}

// Bounds of sip.rtp_ports.
const (
	minRTPPort = 1024
	maxRTPPort = 65535
)

func (s *SIPConfig) check() *Error {
	if err := checkHostPort("sip.listen", s.Listen, false); err != nil {
		return err
	}
	if err := checkHostPort("sip.tls_listen", s.TLSListen, true); err != nil {
		return err
	}
	if s.Domain != "" && !isIP(s.Domain) && !isDNSName(s.Domain, false) {
		return &Error{Key: "sip.domain", Value: s.Domain, Expected: `empty or a DNS name such as "sip.example.org" or an IP address`}
	}
	low, high, err := s.RTPPortRange()
	if err != nil || low < minRTPPort || high > maxRTPPort || high < low+3 || low%2 != 0 {
		return &Error{Key: "sip.rtp_ports", Value: s.RTPPorts, Expected: fmt.Sprintf(`a range "low-high" such as "10000-10999" with an even low port and at least 4 ports, both within %d-%d`, minRTPPort, maxRTPPort)}
	}
	if s.MediaAddress != "" && (!isIP(s.MediaAddress) || net.ParseIP(s.MediaAddress).IsUnspecified()) {
		return &Error{Key: "sip.media_address", Value: s.MediaAddress, Expected: "empty or an IP address phones can reach, such as 203.0.113.7"}
	}
	if s.RingTimeout < 5*time.Second || s.RingTimeout > 10*time.Minute {
		return &Error{Key: "sip.ring_timeout", Value: s.RingTimeout, Expected: "a duration from 5s to 10m"}
	}
	return s.checkRegistrar()
}

// checkRegistrar checks the SIP keys after rtp_ports, in their order.
func (s *SIPConfig) checkRegistrar() *Error {
	files := []struct{ key, path, other, what string }{
		{"sip.cert_file", s.CertFile, s.KeyFile, "certificate"},
		{"sip.key_file", s.KeyFile, s.CertFile, "private key"},
	}
	for _, f := range files {
		switch {
		case f.path == "" && f.other != "":
			return &Error{Key: f.key, Value: f.path, Expected: "set together with sip.cert_file and sip.key_file (both or neither)"}
		case f.path != "":
			if err := checkReadableFile(f.path); err != nil {
				return &Error{Key: f.key, Value: f.path, Expected: fmt.Sprintf("empty or a readable PEM %s file (%v)", f.what, err)}
			}
		}
	}
	if s.RegisterMinExpires < 10*time.Second || s.RegisterMinExpires > time.Hour || s.RegisterMinExpires%time.Second != 0 {
		return &Error{Key: "sip.register_min_expires", Value: s.RegisterMinExpires, Expected: "whole seconds from 10s to 1h"}
	}
	if s.RegisterMaxExpires < s.RegisterMinExpires || s.RegisterMaxExpires > 24*time.Hour || s.RegisterMaxExpires%time.Second != 0 {
		return &Error{Key: "sip.register_max_expires", Value: s.RegisterMaxExpires, Expected: fmt.Sprintf("whole seconds from sip.register_min_expires (%s) to 24h", shortDuration(s.RegisterMinExpires))}
	}
	if s.QualifyInterval < time.Second || s.QualifyInterval > time.Hour {
		return &Error{Key: "sip.qualify_interval", Value: s.QualifyInterval, Expected: "a duration from 1s to 1h"}
	}
	if s.QualifyMisses < 1 || s.QualifyMisses > 20 {
		return &Error{Key: "sip.qualify_misses", Value: s.QualifyMisses, Expected: "an integer 1-20"}
	}
	if len(s.DigestAlgorithms) == 0 {
		return &Error{Key: "sip.digest_algorithms", Value: s.DigestAlgorithms, Expected: "one or both of SHA-256 and MD5, most preferred first"}
	}
	for i, a := range s.DigestAlgorithms {
		if (a != "SHA-256" && a != "MD5") || slices.Contains(s.DigestAlgorithms[:i], a) {
			return &Error{Key: fmt.Sprintf("sip.digest_algorithms[%d]", i), Value: a, Expected: "SHA-256 or MD5, each at most once"}
		}
	}
	a := s.Auth
	if a.MaxFailuresPerSource < 1 {
		return &Error{Key: "sip.auth.max_failures_per_source", Value: a.MaxFailuresPerSource, Expected: "an integer of at least 1"}
	}
	if a.MaxFailuresPerExtension < 1 {
		return &Error{Key: "sip.auth.max_failures_per_extension", Value: a.MaxFailuresPerExtension, Expected: "an integer of at least 1"}
	}
	if a.MaxRequestsPerSource < 0 {
		return &Error{Key: "sip.auth.max_requests_per_source", Value: a.MaxRequestsPerSource, Expected: "0 (no limit) or a positive integer"}
	}
	if a.BlockFor < time.Second {
		return &Error{Key: "sip.auth.block_for", Value: a.BlockFor, Expected: "a duration of at least 1s"}
	}
	return nil
}

func (m *MQTTConfig) check() *Error {
	if err := checkHostPort("mqtt.listen", m.Listen, true); err != nil {
		return err
	}
	if m.URL != "" && !isBrokerURL(m.URL) {
		return &Error{Key: "mqtt.url", Value: redactURL(m.URL), Expected: `empty or a broker URL such as "mqtts://broker.example.org:8883" (mqtt, mqtts, tcp, ssl, ws or wss)`}
	}
	return nil
}

func (c *CamerasConfig) check() *Error {
	durations := []struct {
		key      string
		v        time.Duration
		low, top time.Duration
	}{
		{"cameras.check_interval", c.CheckInterval, 5 * time.Second, time.Hour},
		{"cameras.sample_for", c.SampleFor, time.Second, time.Minute},
		{"cameras.timeout", c.Timeout, time.Second, time.Minute},
		{"cameras.offline_after", c.OfflineAfter, time.Second, time.Hour},
		{"cameras.keyframe_timeout", c.KeyframeTimeout, time.Second, 10 * time.Minute},
		{"cameras.viewer_grace", c.ViewerGrace, 0, 10 * time.Minute},
	}
	for _, d := range durations {
		if d.v < d.low || d.v > d.top {
			return &Error{Key: d.key, Value: d.v, Expected: fmt.Sprintf("a duration from %s to %s", d.low, d.top)}
		}
	}
	if c.MinFPS < 0 || c.MinFPS > 120 {
		return &Error{Key: "cameras.min_fps", Value: c.MinFPS, Expected: "a frame rate from 0 to 120"}
	}
	if c.MaxViewers < 1 || c.MaxViewers > 1000 {
		return &Error{Key: "cameras.max_viewers", Value: c.MaxViewers, Expected: "a number from 1 to 1000"}
	}
	return nil
}

func (l *LogConfig) check() *Error {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Key: "log.level", Value: l.Level, Expected: "one of debug, info, warn, error"}
	}
	switch l.Format {
	case "text", "json":
	default:
		return &Error{Key: "log.format", Value: l.Format, Expected: "one of text, json"}
	}
	return nil
}

// checkHostPort checks a listen address: host:port where the host is empty,
// an IP or a DNS name and the port is 0-65535.
func checkHostPort(key, addr string, emptyOK bool) *Error {
	if addr == "" && emptyOK {
		return nil
	}
	expected := expectHostPort
	if emptyOK {
		expected = "empty (off) or " + expectHostPort
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &Error{Key: key, Value: addr, Expected: expected}
	}
	if _, err := parsePort(port); err != nil {
		return &Error{Key: key, Value: addr, Expected: expected}
	}
	if host != "" && !isDNSName(host, false) {
		if _, err := netip.ParseAddr(host); err != nil {
			return &Error{Key: key, Value: addr, Expected: expected}
		}
	}
	return nil
}

// checkReadableFile checks that path is a regular file that can be opened.
// It does not open FIFOs or devices, which could block.
func checkReadableFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// isIP reports whether s is an IPv4 or IPv6 address without a zone.
func isIP(s string) bool {
	return net.ParseIP(s) != nil
}

// isDNSName reports whether s is a host name made of letters, digits and
// hyphens; wildcard allows a leading "*." label.
func isDNSName(s string, wildcard bool) bool {
	if wildcard {
		s = strings.TrimPrefix(s, "*.")
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
			if !ok {
				return false
			}
		}
	}
	return true
}

// isOrigin reports whether s is a browser origin: scheme://host[:port] in
// lower case with nothing after it.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(s, "#") {
		return false
	}
	if s != strings.ToLower(s) || s != u.Scheme+"://"+u.Host {
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := parsePort(p); err != nil || n == 0 {
			return false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return false
	}
	host := u.Hostname()
	return isIP(host) || isDNSName(host, false)
}

// isBrokerURL reports whether s is an MQTT broker URL with a known scheme
// and a host.
func isBrokerURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return false
	}
	switch u.Scheme {
	case "mqtt", "mqtts", "tcp", "ssl", "ws", "wss":
	default:
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := parsePort(p); err != nil || n == 0 {
			return false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return false
	}
	return true
}

func (m *MeetingsConfig) check() *Error {
	if m.MaxParticipants < 2 || m.MaxParticipants > 1000 {
		return &Error{Key: "meetings.max_participants", Value: m.MaxParticipants, Expected: "a number of people 2-1000"}
	}
	if m.MaxParticipantsTotal < m.MaxParticipants || m.MaxParticipantsTotal > 100000 {
		return &Error{Key: "meetings.max_participants_total", Value: m.MaxParticipantsTotal, Expected: fmt.Sprintf("a number of people from meetings.max_participants (%d) to 100000", m.MaxParticipants)}
	}
	if m.MaxTracks < 1 || m.MaxTracks > 20 {
		return &Error{Key: "meetings.max_tracks", Value: m.MaxTracks, Expected: "a number of tracks 1-20"}
	}
	if len(m.DialInPrefix) < 1 || len(m.DialInPrefix) > 4 || strings.Trim(m.DialInPrefix, "0123456789") != "" {
		return &Error{Key: "meetings.dial_in_prefix", Value: m.DialInPrefix, Expected: `1-4 digits such as "8"`}
	}
	return nil
}
