// Package configs holds civicd's configuration: the documented default file
// (civicd.yaml, embedded in the binary), the Config struct it decodes into,
// and the loader that layers built-in defaults < a YAML file < CIVIC_*
// environment variables and validates the result.
//
// Only cmd/civicd should import this package. Modules take the plain values
// they need through their own Options structs, so that they do not depend on
// the shape of the file.
package configs

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Config is the whole civicd configuration. The mapstructure tags are the
// key names in the YAML file; see docs/configuration.md for the full table.
type Config struct {
	// DataDir is the directory for the database, the auto-generated TLS
	// certificate and other state. Default: "./data".
	DataDir string `mapstructure:"data_dir"`
	// Timezone is the IANA time zone name used to show times. Use Location
	// for the loaded *time.Location. Default: "Asia/Shanghai".
	Timezone string `mapstructure:"timezone"`
	// HTTP configures the console, API and websocket server.
	HTTP HTTPConfig `mapstructure:"http"`
	// WS bounds each console websocket connection.
	WS WSConfig `mapstructure:"ws"`
	// WebRTC configures media transport for meetings and live views.
	WebRTC WebRTCConfig `mapstructure:"webrtc"`
	// Meetings bounds video meetings.
	Meetings MeetingsConfig `mapstructure:"meetings"`
	// SIP configures the SIP gateway for desk phones and door stations.
	SIP SIPConfig `mapstructure:"sip"`
	// MQTT configures the broker used by door controllers and sensors.
	MQTT MQTTConfig `mapstructure:"mqtt"`
	// Cameras configures camera health checks and live view.
	Cameras CamerasConfig `mapstructure:"cameras"`
	// Log configures the daemon's log output.
	Log LogConfig `mapstructure:"log"`

	// loc is set by Validate from Timezone.
	loc *time.Location
}

// TLS modes accepted by http.tls.
const (
	// TLSAuto makes a self-signed certificate in the data dir.
	TLSAuto = "auto"
	// TLSOff serves plain HTTP; use it only behind a TLS-terminating proxy.
	TLSOff = "off"
	// TLSFiles uses http.cert_file and http.key_file.
	TLSFiles = "files"
)

// HTTPConfig configures the HTTPS console, login API and websocket.
type HTTPConfig struct {
	// Listen is the host:port of the console. Port 0 picks a free port.
	// Default: ":8443".
	Listen string `mapstructure:"listen"`
	// TLS is one of TLSAuto, TLSOff or TLSFiles. Default: "auto".
	TLS string `mapstructure:"tls"`
	// CertFile is the PEM certificate chain used when TLS is "files".
	// Default: "".
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key used when TLS is "files". Default: "".
	KeyFile string `mapstructure:"key_file"`
	// Hostnames are the DNS names and IP addresses put into the
	// self-signed certificate when TLS is "auto".
	// Default: ["localhost", "127.0.0.1", "::1"].
	Hostnames []string `mapstructure:"hostnames"`
	// AllowedOrigins are extra websocket origins (scheme://host[:port])
	// accepted besides the console's own. Default: [].
	AllowedOrigins []string `mapstructure:"allowed_origins"`
	// StaticDir serves the UI from this directory instead of the copy built
	// into the binary; for UI development. Default: "" (built-in UI).
	StaticDir string `mapstructure:"static_dir"`
	// SessionTTL is how long a login session lasts; at least one minute.
	// Default: 12h.
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	// Login limits password guessing.
	Login LoginConfig `mapstructure:"login"`
}

// LoginConfig limits failed logins per user and per source address.
type LoginConfig struct {
	// MaxFailuresPerUser is how many failed logins for one user within
	// Window lock that user out for Lockout. Default: 5.
	MaxFailuresPerUser int `mapstructure:"max_failures_per_user"`
	// MaxFailuresPerSource is how many failed logins from one source
	// address within Window lock that address out for Lockout. Default: 20.
	MaxFailuresPerSource int `mapstructure:"max_failures_per_source"`
	// Window is the period over which failures are counted. Default: 15m.
	Window time.Duration `mapstructure:"window"`
	// Lockout is how long a locked-out user or source must wait.
	// Default: 15m.
	Lockout time.Duration `mapstructure:"lockout"`
}

// WSConfig bounds each console websocket connection.
type WSConfig struct {
	// MaxMessageBytes is the largest message a client may send, 1024 to
	// 16777216. Default: 65536.
	MaxMessageBytes int `mapstructure:"max_message_bytes"`
	// Rate is the sustained number of messages per second a connection may
	// send. Default: 20.
	Rate float64 `mapstructure:"rate"`
	// Burst is how many messages a connection may send at once above Rate.
	// Default: 40.
	Burst int `mapstructure:"burst"`
}

// WebRTCConfig configures the one UDP port and ICE-TCP listener shared by
// every peer connection.
type WebRTCConfig struct {
	// UDPPort is the UDP port muxed for all peers; 0 picks a free port.
	// Default: 7882.
	UDPPort int `mapstructure:"udp_port"`
	// TCPPort is the ICE-TCP port; 0 picks a free port. Default: 7881.
	TCPPort int `mapstructure:"tcp_port"`
	// PublicIP is announced for NAT 1:1 when the server is behind a NAT
	// with a fixed public address. Default: "" (announce local addresses).
	PublicIP string `mapstructure:"public_ip"`
	// Interfaces limits ICE candidates to these network interfaces.
	// Default: [] (all interfaces).
	Interfaces []string `mapstructure:"interfaces"`
	// ICEServers are the STUN and TURN servers given to browsers.
	// Default: [].
	ICEServers []ICEServer `mapstructure:"ice_servers"`
}

// MeetingsConfig bounds video meetings, per meeting and for the server.
type MeetingsConfig struct {
	// MaxParticipants is the most people in one meeting. Default: 100.
	MaxParticipants int `mapstructure:"max_participants"`
	// MaxParticipantsTotal is the most people in all meetings at once on
	// this server. Default: 500.
	MaxParticipantsTotal int `mapstructure:"max_participants_total"`
	// MaxTracks is the most media sections one participant may publish
	// (microphone, camera, screen...). Default: 6.
	MaxTracks int `mapstructure:"max_tracks"`
	// DialInPrefix goes before a meeting's 6-digit room number to make
	// the number desk phones dial to join it. Default: "8".
	DialInPrefix string `mapstructure:"dial_in_prefix"`
}

// ICEServer is one STUN or TURN server, in the shape of the browser's
// RTCIceServer so it can be sent to clients as JSON. Its String and
// LogValue methods hide Credential.
type ICEServer struct {
	// URLs start with stun:, stuns:, turn: or turns:. Default: none.
	URLs []string `mapstructure:"urls" json:"urls"`
	// Username for TURN servers. Default: "".
	Username string `mapstructure:"username" json:"username,omitempty"`
	// Credential is the TURN password; it is a secret. Default: "".
	Credential string `mapstructure:"credential" json:"credential,omitempty" redact:"true"`
}

// SIPConfig configures the SIP gateway.
type SIPConfig struct {
	// Listen is the host:port for SIP over UDP and TCP. Default: ":5060".
	Listen string `mapstructure:"listen"`
	// TLSListen is the host:port for SIP over TLS; empty turns SIP over
	// TLS off, and so does having no certificate. Default: ":5061".
	TLSListen string `mapstructure:"tls_listen"`
	// CertFile is the PEM certificate chain for SIP over TLS; empty reuses
	// http.cert_file when http.tls is "files". Default: "".
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key for SIP over TLS, set together with
	// CertFile. Default: "".
	KeyFile string `mapstructure:"key_file"`
	// Domain is the SIP domain phones register to, and the digest realm.
	// Default: "" (use the host of Listen, or the host name).
	Domain string `mapstructure:"domain"`
	// RTPPorts is the UDP port range "low-high" for phone media; low is
	// even and both are within 1024-65535. Default: "10000-10999".
	RTPPorts string `mapstructure:"rtp_ports"`
	// MediaAddress is the IP address phones are told to send RTP to,
	// for a server behind 1:1 NAT. Default: "" (the host of Listen, or
	// the address the route to each phone leaves from).
	MediaAddress string `mapstructure:"media_address"`
	// RingTimeout is how long a call rings an extension that has no
	// forwarding on no answer. Default: 1m.
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
	// RegisterMinExpires is the shortest registration a phone may ask
	// for; shorter ones are refused with 423. Default: 1m.
	RegisterMinExpires time.Duration `mapstructure:"register_min_expires"`
	// RegisterMaxExpires is the longest registration granted; longer ones
	// are cut to it. Default: 1h.
	RegisterMaxExpires time.Duration `mapstructure:"register_max_expires"`
	// QualifyInterval is how often each registered phone is sent an
	// OPTIONS keepalive. Default: 30s.
	QualifyInterval time.Duration `mapstructure:"qualify_interval"`
	// QualifyMisses is how many keepalives in a row a phone may leave
	// unanswered before it shows as offline. Default: 3.
	QualifyMisses int `mapstructure:"qualify_misses"`
	// DigestAlgorithms are the digest algorithms offered to phones, most
	// preferred first, from "SHA-256" and "MD5". Default: [SHA-256, MD5].
	DigestAlgorithms []string `mapstructure:"digest_algorithms"`
	// Auth limits SIP password guessing.
	Auth SIPAuthConfig `mapstructure:"auth"`
}

// SIPAuthConfig limits failed SIP authentications per source address and
// per extension.
type SIPAuthConfig struct {
	// MaxFailuresPerSource is how many failed authentications from one IP
	// address within BlockFor block that address for BlockFor; its
	// packets are then dropped unanswered. Default: 20.
	MaxFailuresPerSource int `mapstructure:"max_failures_per_source"`
	// MaxFailuresPerExtension is how many failed authentications as one
	// extension within BlockFor block it for BlockFor (403), except from
	// addresses where it is already registered. Default: 5.
	MaxFailuresPerExtension int `mapstructure:"max_failures_per_extension"`
	// MaxRequestsPerSource is how many SIP requests per second one IP
	// address may send (twice that in a burst); more are answered 503
	// with Retry-After. 0 turns the limit off. Default: 100.
	MaxRequestsPerSource int `mapstructure:"max_requests_per_source"`
	// BlockFor is how long a block lasts, and the period over which
	// failures are counted. Default: 15m.
	BlockFor time.Duration `mapstructure:"block_for"`
}

// MQTTConfig configures the MQTT broker for door controllers and sensors.
type MQTTConfig struct {
	// Listen is the host:port of the embedded broker; empty turns it off.
	// Default: "127.0.0.1:1883".
	Listen string `mapstructure:"listen"`
	// URL is an external broker (mqtt://, mqtts://, tcp://, ssl://, ws://
	// or wss://). It may hold a password, which String and LogValue hide.
	// Default: "" (no external broker).
	URL string `mapstructure:"url"`
}

// CamerasConfig configures how cameras are watched (building/cameras).
type CamerasConfig struct {
	// CheckInterval is how often a camera nobody watches is sampled
	// (DESCRIBE and a short PLAY). Default: 30s.
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// SampleFor is how long each check plays the stream. Default: 3s.
	SampleFor time.Duration `mapstructure:"sample_for"`
	// Timeout bounds each RTSP request, and the wait for video while
	// playing. Default: 5s.
	Timeout time.Duration `mapstructure:"timeout"`
	// OfflineAfter is how long a camera may send no video before it is
	// offline and raises an alarm. Default: 15s.
	OfflineAfter time.Duration `mapstructure:"offline_after"`
	// MinFPS is the frame rate below which a camera is degraded.
	// Default: 5.
	MinFPS float64 `mapstructure:"min_fps"`
	// KeyframeTimeout is how long a camera may go without a keyframe
	// before it is degraded. Default: 10s.
	KeyframeTimeout time.Duration `mapstructure:"keyframe_timeout"`
	// ViewerGrace keeps a camera's stream up after its last viewer
	// leaves. Default: 10s.
	ViewerGrace time.Duration `mapstructure:"viewer_grace"`
	// MaxViewers caps the live viewers of one camera. Default: 20.
	MaxViewers int `mapstructure:"max_viewers"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error. Default: "info".
	Level string `mapstructure:"level"`
	// Format is text or json. Default: "text".
	Format string `mapstructure:"format"`
}

// Interface guards.
var (
	_ slog.LogValuer = (*Config)(nil)
	_ slog.LogValuer = ICEServer{}
	_ fmt.Stringer   = (*Config)(nil)
	_ fmt.Stringer   = ICEServer{}
)

// Location returns the time zone named by Timezone. Validate (and so Load)
// loads it; on a Config that was never validated it is loaded on each call,
// and UTC is returned if the name is invalid.
func (c *Config) Location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" {
		return time.UTC
	}
	return loc
}

// SlogLevel returns Level as a slog.Level; unknown names give LevelInfo.
func (l LogConfig) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// RTPPortRange returns the low and high ports of RTPPorts.
func (s SIPConfig) RTPPortRange() (low, high int, err error) {
	lo, hi, ok := strings.Cut(s.RTPPorts, "-")
	if !ok {
		return 0, 0, fmt.Errorf("rtp port range %q: missing \"-\"", s.RTPPorts)
	}
	low, err = parsePort(lo)
	if err != nil {
		return 0, 0, fmt.Errorf("rtp port range %q: low port: %w", s.RTPPorts, err)
	}
	high, err = parsePort(hi)
	if err != nil {
		return 0, 0, fmt.Errorf("rtp port range %q: high port: %w", s.RTPPorts, err)
	}
	return low, high, nil
}

// parsePort parses a decimal port number 0-65535 with no sign or spaces.
func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return n, nil
}

const redactedText = "REDACTED"

// String returns the server with Credential hidden.
func (s ICEServer) String() string {
	return fmt.Sprintf("{urls:%v username:%q credential:%s}", s.URLs, s.Username, s.redactedCredential())
}

// LogValue logs the server with Credential hidden.
func (s ICEServer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("urls", s.URLs),
		slog.String("username", s.Username),
		slog.String("credential", s.redactedCredential()),
	)
}

func (s ICEServer) redactedCredential() string {
	if s.Credential == "" {
		return ""
	}
	return redactedText
}

// Redacted returns a deep copy of c with secrets replaced: ICE server
// credentials become "REDACTED" and a password in MQTT.URL becomes "xxxxx".
func (c *Config) Redacted() *Config {
	r := *c
	r.HTTP.Hostnames = cloneStrings(c.HTTP.Hostnames)
	r.HTTP.AllowedOrigins = cloneStrings(c.HTTP.AllowedOrigins)
	r.WebRTC.Interfaces = cloneStrings(c.WebRTC.Interfaces)
	r.SIP.DigestAlgorithms = cloneStrings(c.SIP.DigestAlgorithms)
	if c.WebRTC.ICEServers != nil {
		r.WebRTC.ICEServers = make([]ICEServer, len(c.WebRTC.ICEServers))
		for i, s := range c.WebRTC.ICEServers {
			r.WebRTC.ICEServers[i] = ICEServer{
				URLs:       cloneStrings(s.URLs),
				Username:   s.Username,
				Credential: s.redactedCredential(),
			}
		}
	}
	r.MQTT.URL = redactURL(c.MQTT.URL)
	return &r
}

// redactURL hides the password of a URL. A string that does not parse but
// looks like it has user info has everything between "://" and the last "@"
// hidden.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := strings.Index(s, "://")
	if start < 0 || start+3 > at {
		return "xxxxx" + s[at:]
	}
	return s[:start+3] + "xxxxx" + s[at:]
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

// LogValue logs every key with its value, secrets redacted, as a flat group
// of dotted keys ("http.listen").
func (c *Config) LogValue() slog.Value {
	r := c.Redacted()
	attrs := make([]slog.Attr, 0, len(Keys()))
	walkLeaves(reflect.ValueOf(r).Elem(), "", func(key string, v reflect.Value) {
		attrs = append(attrs, slog.Any(key, v.Interface()))
	})
	return slog.GroupValue(attrs...)
}

// String returns every key=value on one line, secrets redacted.
func (c *Config) String() string {
	r := c.Redacted()
	var b strings.Builder
	walkLeaves(reflect.ValueOf(r).Elem(), "", func(key string, v reflect.Value) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch x := v.Interface().(type) {
		case string:
			fmt.Fprintf(&b, "%s=%q", key, x)
		case time.Duration:
			fmt.Fprintf(&b, "%s=%s", key, shortDuration(x))
		default:
			fmt.Fprintf(&b, "%s=%v", key, x)
		}
	})
	return b.String()
}

// shortDuration formats d without zero trailing units: 12h, 15m, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Keys lists every configuration key in struct order ("data_dir",
// "http.listen", "http.login.window", ...). It is derived from the
// mapstructure tags of Config, so it cannot drift from the struct.
func Keys() []string {
	var keys []string
	walkLeafTypes(reflect.TypeFor[Config](), "", func(key string, _ reflect.StructField) {
		keys = append(keys, key)
	})
	return keys
}

// EnvVar returns the environment variable that overrides key:
// "http.listen" gives "CIVIC_HTTP_LISTEN".
func EnvVar(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

const envPrefix = "CIVIC_"

var durationType = reflect.TypeFor[time.Duration]()

// isSection reports whether a field of type t is a nested group of keys
// rather than a value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct
}

// fieldKey returns the key name of a struct field, or "" for fields that are
// not configuration keys (unexported or untagged).
func fieldKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

// walkLeafTypes calls fn for every leaf key of struct type t.
func walkLeafTypes(t reflect.Type, prefix string, fn func(key string, f reflect.StructField)) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := fieldKey(f)
		if name == "" {
			continue
		}
		if isSection(f.Type) {
			walkLeafTypes(f.Type, prefix+name+".", fn)
			continue
		}
		fn(prefix+name, f)
	}
}

// walkLeaves calls fn for every leaf key of the struct value v.
func walkLeaves(v reflect.Value, prefix string, fn func(key string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := fieldKey(f)
		if name == "" {
			continue
		}
		if isSection(f.Type) {
			walkLeaves(v.Field(i), prefix+name+".", fn)
			continue
		}
		fn(prefix+name, v.Field(i))
	}
}
