package configs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes body to a config file in a fresh temp dir.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "civicd.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads the defaults with no file and no environment.
func mustLoad(t *testing.T) *Config {
	t.Helper()
	c, err := LoadWithEnv("", nil)
	if err != nil {
		t.Fatalf("load defaults: %v", err)
	}
	return c
}

// settings returns every key's value of c, for comparisons.
func settings(c *Config) map[string]any {
	m := make(map[string]any)
	walkLeaves(reflect.ValueOf(c).Elem(), "", func(key string, v reflect.Value) {
		m[key] = v.Interface()
	})
	return m
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t)
	want := map[string]any{
		"data_dir":                            "./data",
		"timezone":                            "Asia/Shanghai",
		"http.listen":                         ":8443",
		"http.tls":                            "auto",
		"http.cert_file":                      "",
		"http.key_file":                       "",
		"http.hostnames":                      []string{"localhost", "127.0.0.1", "::1"},
		"http.allowed_origins":                []string{},
		"http.static_dir":                     "",
		"http.session_ttl":                    12 * time.Hour,
		"http.login.max_failures_per_user":    5,
		"http.login.max_failures_per_source":  20,
		"http.login.window":                   15 * time.Minute,
		"http.login.lockout":                  15 * time.Minute,
		"ws.max_message_bytes":                65536,
		"ws.rate":                             20.0,
		"ws.burst":                            40,
		"webrtc.udp_port":                     7882,
		"webrtc.tcp_port":                     7881,
		"webrtc.public_ip":                    "",
		"webrtc.interfaces":                   []string{},
		"webrtc.ice_servers":                  []ICEServer{},
		"meetings.max_participants":           100,
		"meetings.max_participants_total":     500,
		"meetings.max_tracks":                 6,
		"meetings.dial_in_prefix":             "8",
		"sip.listen":                          ":5060",
		"sip.tls_listen":                      ":5061",
		"sip.domain":                          "",
		"sip.rtp_ports":                       "10000-10999",
		"sip.media_address":                   "",
		"sip.ring_timeout":                    time.Minute,
		"sip.cert_file":                       "",
		"sip.key_file":                        "",
		"sip.register_min_expires":            time.Minute,
		"sip.register_max_expires":            time.Hour,
		"sip.qualify_interval":                30 * time.Second,
		"sip.qualify_misses":                  3,
		"sip.digest_algorithms":               []string{"SHA-256", "MD5"},
		"sip.auth.max_failures_per_source":    20,
		"sip.auth.max_failures_per_extension": 5,
		"sip.auth.block_for":                  15 * time.Minute,
		"sip.auth.max_requests_per_source":    100,
		"mqtt.listen":                         "127.0.0.1:1883",
		"mqtt.url":                            "",
		"cameras.check_interval":              30 * time.Second,
		"cameras.sample_for":                  3 * time.Second,
		"cameras.timeout":                     5 * time.Second,
		"cameras.offline_after":               15 * time.Second,
		"cameras.min_fps":                     5.0,
		"cameras.keyframe_timeout":            10 * time.Second,
		"cameras.viewer_grace":                10 * time.Second,
		"cameras.max_viewers":                 20,
		"log.level":                           "info",
		"log.format":                          "text",
	}
	got := settings(c)
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d", len(got), len(want))
	}
	for key, w := range want {
		if !reflect.DeepEqual(got[key], w) {
			t.Errorf("%s = %#v, want %#v", key, got[key], w)
		}
	}
	if got, want := c.Location().String(), "Asia/Shanghai"; got != want {
		t.Errorf("Location() = %q, want %q", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if low, high, err := c.SIP.RTPPortRange(); low != 10000 || high != 10999 || err != nil {
		t.Errorf("RTPPortRange() = %d, %d, %v; want 10000, 10999, nil", low, high, err)
	}
	if got := c.Log.SlogLevel(); got != slog.LevelInfo {
		t.Errorf("SlogLevel() = %v, want INFO", got)
	}
}

func TestFileOverridesEveryKey(t *testing.T) {
	def := settings(mustLoad(t))
	c, err := LoadWithEnv("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := settings(c)
	for _, key := range Keys() {
		files := key == "http.cert_file" || key == "http.key_file" || key == "sip.cert_file" || key == "sip.key_file"
		if reflect.DeepEqual(got[key], def[key]) && !files {
			t.Errorf("%s = %#v, still the default; testdata/full.yaml should change it", key, got[key])
		}
	}
	wantICE := []ICEServer{
		{URLs: []string{"stun:stun.city.example:3478"}},
		{URLs: []string{"turn:turn.city.example:3478?transport=udp", "turns:turn.city.example:5349"}, Username: "civic", Credential: "turn-secret-1"},
	}
	if !reflect.DeepEqual(c.WebRTC.ICEServers, wantICE) {
		t.Errorf("ice_servers = %#v, want %#v", c.WebRTC.ICEServers, wantICE)
	}
	if got, want := c.WS.Rate, 2.5; got != want {
		t.Errorf("ws.rate = %v, want %v", got, want)
	}
	if got, want := c.Location(), time.UTC; got.String() != want.String() {
		t.Errorf("Location() = %v, want %v", got, want)
	}
}

func TestPartialFileKeepsDefaults(t *testing.T) {
	c, err := LoadWithEnv("testdata/partial.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"commented-out key keeps default", c.HTTP.Listen, ":8443"},
		{"set key", c.HTTP.Hostnames, []string{"console.city.example"}},
		{"empty section keeps defaults", c.WS.Rate, 20.0},
		{"key without value is empty", c.SIP.Domain, ""},
		{"untouched section", c.SIP.Listen, ":5060"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

// checkOneLine fails if err is nil or its message spans lines.
func checkOneLine(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "config: ") {
		t.Errorf("error %q is not one line starting with \"config: \"", msg)
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // exact message
		key        string // Error.Key
		unknown    bool
	}{
		{"unknown key", "http:\n  lisen: \":80\"\n",
			`config: unknown key "http.lisen" (did you mean "http.listen"?)`, "http.lisen", true},
		{"unknown section", "htpp:\n  listen: \":80\"\n",
			`config: unknown key "htpp" (did you mean "http"?)`, "htpp", true},
		{"key in the wrong section", "sip:\n  udp_port: 5000\n",
			`config: unknown key "sip.udp_port" (did you mean "webrtc.udp_port"?)`, "sip.udp_port", true},
		{"upper case key", "HTTP:\n  listen: \":80\"\n",
			`config: unknown key "HTTP" (did you mean "http"?)`, "HTTP", true},
		{"dotted key", "http.listen: \":80\"\n",
			`config: unknown key "http.listen": expected nested keys: "listen:" under "http:", not one dotted key`, "http.listen", true},
		{"unknown key in a list item", "webrtc:\n  ice_servers:\n    - url: stun:x\n",
			`config: unknown key "webrtc.ice_servers[0].url" (did you mean "webrtc.ice_servers[0].urls"?)`, "webrtc.ice_servers[0].url", true},
		{"no suggestion", "zzzzzz: 1\n", `config: unknown key "zzzzzz"`, "zzzzzz", true},
		{"wrong type string", "log:\n  level: 5\n",
			`config: log.level = 5: expected a string`, "log.level", false},
		{"wrong type int", "ws:\n  burst: lots\n",
			`config: ws.burst = "lots": expected an integer`, "ws.burst", false},
		{"float for int", "ws:\n  burst: 2.5\n",
			`config: ws.burst = 2.5: expected an integer`, "ws.burst", false},
		{"bare number for duration", "http:\n  session_ttl: 900\n",
			`config: http.session_ttl = 900: expected a duration such as "90s", "15m" or "12h"`, "http.session_ttl", false},
		{"scalar for list", "http:\n  hostnames: localhost\n",
			`config: http.hostnames = "localhost": expected a list of strings such as ["a", "b"]`, "http.hostnames", false},
		{"list for string", "http:\n  listen: [a]\n",
			`config: http.listen = [...]: expected a string`, "http.listen", false},
		{"scalar for section", "http: on\n",
			`config: http = "on": expected a mapping of keys`, "http", false},
		{"port out of range", "webrtc:\n  udp_port: 70000\n",
			`config: webrtc.udp_port = 70000: expected a port number 1-65535, or 0 for any free port`, "webrtc.udp_port", false},
		{"negative port", "webrtc:\n  tcp_port: -1\n",
			`config: webrtc.tcp_port = -1: expected a port number 1-65535, or 0 for any free port`, "webrtc.tcp_port", false},
		{"bad enum", "http:\n  tls: maybe\n",
			`config: http.tls = "maybe": expected one of auto, off, files`, "http.tls", false},
		{"bad listen", "http:\n  listen: abc\n",
			`config: http.listen = "abc": expected host:port such as ":8443" or "127.0.0.1:8443" (port 0 picks a free port)`, "http.listen", false},
		{"duplicate key", "log:\n  level: info\n  level: debug\n",
			`config: log.level = "debug": expected each key only once, but it is set twice`, "log.level", false},
		{"secret not shown", "webrtc:\n  ice_servers:\n    - urls: [turn:x]\n      credential: 123456\n",
			`config: webrtc.ice_servers[0].credential = REDACTED: expected a string`, "webrtc.ice_servers[0].credential", false},
		{"newline in value", "log:\n  level: \"a\\nb\"\n",
			`config: log.level = "a\nb": expected one of debug, info, warn, error`, "log.level", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithEnv(writeConfig(t, tt.body), nil)
			checkOneLine(t, err)
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if ce.Key != tt.key || ce.Unknown != tt.unknown || ce.Source != "" {
				t.Errorf("got Key %q Unknown %v Source %q, want %q %v \"\"", ce.Key, ce.Unknown, ce.Source, tt.key, tt.unknown)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := LoadWithEnv(writeConfig(t, "webrtc:\n  udp_port: 70000\n"), nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *Error", err)
	}
	got := fmt.Sprintf("%s|%v|%s", ce.Key, ce.Value, ce.Expected)
	want := "webrtc.udp_port|70000|a port number 1-65535, or 0 for any free port"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestCorruptFile(t *testing.T) {
	tests := []struct {
		name, path string
		want       []string // substrings
	}{
		{"syntax error", "testdata/corrupt.yaml", []string{"config: testdata/corrupt.yaml: invalid YAML: line 4:"}},
		{"two documents", writeConfig(t, "log: {level: info}\n---\nlog: {level: debug}\n"), []string{"civicd.yaml: line 2: expected one YAML document"}},
		{"list at top", writeConfig(t, "- a\n- b\n"), []string{"civicd.yaml: line 1: expected keys such as \"http:\" at the top level"}},
		{"tab indent", writeConfig(t, "http:\n\tlisten: x\n"), []string{"civicd.yaml: invalid YAML: line"}},
		{"missing file", filepath.Join(t.TempDir(), "nope.yaml"), []string{"config: open ", "nope.yaml: no such file or directory"}},
		{"directory", t.TempDir(), []string{"config: read ", "is a directory"}},
		{"too big", writeConfig(t, "# "+strings.Repeat("x", maxFileBytes)+"\n"), []string{"too big for a config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithEnv(tt.path, nil)
			checkOneLine(t, err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEmptyFiles(t *testing.T) {
	for _, body := range []string{"", "# just a comment\n", "---\n", "~\n", "http:\nws:\n"} {
		c, err := LoadWithEnv(writeConfig(t, body), nil)
		if err != nil {
			t.Errorf("file %q: %v", body, err)
			continue
		}
		if got, want := c.HTTP.Listen, ":8443"; got != want {
			t.Errorf("file %q: http.listen = %q, want default %q", body, got, want)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	file := writeConfig(t, "http:\n  listen: \":9000\"\nwebrtc:\n  udp_port: 9001\n")
	tests := []struct {
		name string
		env  []string
		get  func(*Config) any
		want any
	}{
		{"string", []string{"CIVIC_HTTP_LISTEN=127.0.0.1:0"}, func(c *Config) any { return c.HTTP.Listen }, "127.0.0.1:0"},
		{"int", []string{"CIVIC_WEBRTC_UDP_PORT=0"}, func(c *Config) any { return c.WebRTC.UDPPort }, 0},
		{"float", []string{"CIVIC_WS_RATE=0.5"}, func(c *Config) any { return c.WS.Rate }, 0.5},
		{"duration", []string{"CIVIC_HTTP_SESSION_TTL=90m"}, func(c *Config) any { return c.HTTP.SessionTTL }, 90 * time.Minute},
		{"nested duration", []string{"CIVIC_HTTP_LOGIN_WINDOW=1m"}, func(c *Config) any { return c.HTTP.Login.Window }, time.Minute},
		{"nested int", []string{"CIVIC_HTTP_LOGIN_MAX_FAILURES_PER_USER=9"}, func(c *Config) any { return c.HTTP.Login.MaxFailuresPerUser }, 9},
		{"list", []string{"CIVIC_HTTP_HOSTNAMES=a.example, 10.0.0.5"}, func(c *Config) any { return c.HTTP.Hostnames }, []string{"a.example", "10.0.0.5"}},
		{"empty list", []string{"CIVIC_WEBRTC_INTERFACES="}, func(c *Config) any { return c.WebRTC.Interfaces }, []string{}},
		{"data_dir", []string{"CIVIC_DATA_DIR=/srv/civic"}, func(c *Config) any { return c.DataDir }, "/srv/civic"},
		{"empty string", []string{"CIVIC_MQTT_LISTEN="}, func(c *Config) any { return c.MQTT.Listen }, ""},
		{"ice servers JSON", []string{`CIVIC_WEBRTC_ICE_SERVERS=[{"urls":["turn:t.example:3478"],"username":"u","credential":"p"}]`},
			func(c *Config) any { return c.WebRTC.ICEServers },
			[]ICEServer{{URLs: []string{"turn:t.example:3478"}, Username: "u", Credential: "p"}}},
		{"ice servers JSON escapes and numbers-as-strings", []string{`CIVIC_WEBRTC_ICE_SERVERS=[{"urls":["stun:a.example\/x"],"username":"5"}]`},
			func(c *Config) any { return c.WebRTC.ICEServers },
			[]ICEServer{{URLs: []string{"stun:a.example/x"}, Username: "5"}}},
		{"file value without env", nil, func(c *Config) any { return c.WebRTC.UDPPort }, 9001},
		{"env beats file", []string{"CIVIC_HTTP_LISTEN=:9100"}, func(c *Config) any { return c.HTTP.Listen }, ":9100"},
		{"last one wins", []string{"CIVIC_LOG_LEVEL=warn", "CIVIC_LOG_LEVEL=error"}, func(c *Config) any { return c.Log.Level }, "error"},
		{"admin password and unknown ignored", []string{"CIVIC_ADMIN_PASSWORD=x", "CIVIC_NOT_A_KEY=1", "CIVIC_HTTP=1", "civic_log_level=debug", "NOEQUALS"},
			func(c *Config) any { return c.Log.Level }, "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadWithEnv(file, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want string
	}{
		{"bad int", "CIVIC_WEBRTC_UDP_PORT=abc",
			`config: webrtc.udp_port = "abc" (from CIVIC_WEBRTC_UDP_PORT): expected an integer`},
		{"out of range int", "CIVIC_WEBRTC_UDP_PORT=70000",
			`config: webrtc.udp_port = 70000 (from CIVIC_WEBRTC_UDP_PORT): expected a port number 1-65535, or 0 for any free port`},
		{"bad duration", "CIVIC_HTTP_LOGIN_LOCKOUT=forever",
			`config: http.login.lockout = "forever" (from CIVIC_HTTP_LOGIN_LOCKOUT): expected a duration such as "90s", "15m" or "12h"`},
		{"bad value", "CIVIC_HTTP_LISTEN=abc",
			`config: http.listen = "abc" (from CIVIC_HTTP_LISTEN): expected host:port such as ":8443" or "127.0.0.1:8443" (port 0 picks a free port)`},
		{"bad list item", "CIVIC_HTTP_HOSTNAMES=ok.example,bad_name",
			`config: http.hostnames[1] = "bad_name" (from CIVIC_HTTP_HOSTNAMES): expected a DNS name such as "console.example.org" or an IP address`},
		{"ice servers not JSON", `CIVIC_WEBRTC_ICE_SERVERS=[{"urls":["turn:x"],"credential":"hunter2"`,
			`config: webrtc.ice_servers = (not shown, may hold credentials) (from CIVIC_WEBRTC_ICE_SERVERS): expected a JSON list of objects such as ` + exampleICEServersJSON + ` (unexpected end of JSON input)`},
		{"ice servers unknown field", `CIVIC_WEBRTC_ICE_SERVERS=[{"url":"stun:x"}]`,
			`config: unknown key "webrtc.ice_servers[0].url" in CIVIC_WEBRTC_ICE_SERVERS (did you mean "webrtc.ice_servers[0].urls"?)`},
		{"ice servers wrong type", `CIVIC_WEBRTC_ICE_SERVERS={"urls":["stun:x"]}`,
			`config: webrtc.ice_servers = {...} (from CIVIC_WEBRTC_ICE_SERVERS): expected a list of mappings`},
		{"ice servers invalid", `CIVIC_WEBRTC_ICE_SERVERS=[{"urls":["turn:x"],"credential":"hunter2"}]`,
			`config: webrtc.ice_servers[0].username = "" (from CIVIC_WEBRTC_ICE_SERVERS): expected a username, which browsers require for turn: and turns: URLs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithEnv("", []string{tt.env})
			checkOneLine(t, err)
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the credential", err)
			}
		})
	}
}

func TestMissingFileVersusNoFile(t *testing.T) {
	if _, err := Load(""); err != nil {
		t.Errorf(`Load("") = %v, want defaults`, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded, want an error")
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, p := range []string{cert, key} {
		if err := os.WriteFile(p, []byte("-----BEGIN X-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		body string
		want string // "" for success, else the Error's Key
	}{
		{"files without cert", "http:\n  tls: files\n", "http.cert_file"},
		{"files without key", fmt.Sprintf("http:\n  tls: files\n  cert_file: %q\n", cert), "http.key_file"},
		{"missing cert", fmt.Sprintf("http:\n  tls: files\n  cert_file: %q\n  key_file: %q\n", filepath.Join(dir, "no.pem"), key), "http.cert_file"},
		{"cert is a directory", fmt.Sprintf("http:\n  tls: files\n  cert_file: %q\n  key_file: %q\n", dir, key), "http.cert_file"},
		{"files ok", fmt.Sprintf("http:\n  tls: files\n  cert_file: %q\n  key_file: %q\n", cert, key), ""},
		{"auto with cert", fmt.Sprintf("http:\n  cert_file: %q\n", cert), "http.cert_file"},
		{"off ignores cert", fmt.Sprintf("http:\n  tls: \"off\"\n  cert_file: %q\n", cert), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithEnv(writeConfig(t, tt.body), nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			checkOneLine(t, err)
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tt.want {
				t.Errorf("got %v, want an *Error for %s", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		key    string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"empty data_dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"bad timezone", func(c *Config) { c.Timezone = "Mars/Olympus" }, "timezone"},
		{"empty timezone", func(c *Config) { c.Timezone = "" }, "timezone"},
		{"IPv6 listen", func(c *Config) { c.HTTP.Listen = "[::1]:0" }, ""},
		{"named port", func(c *Config) { c.HTTP.Listen = ":https" }, "http.listen"},
		{"no hostnames with auto", func(c *Config) { c.HTTP.Hostnames = nil }, "http.hostnames"},
		{"no hostnames with off", func(c *Config) { c.HTTP.TLS = TLSOff; c.HTTP.Hostnames = nil }, ""},
		{"wildcard hostname", func(c *Config) { c.HTTP.Hostnames = []string{"*.city.example"} }, ""},
		{"bad hostname", func(c *Config) { c.HTTP.Hostnames = []string{"-bad.example"} }, "http.hostnames[0]"},
		{"origin ok", func(c *Config) { c.HTTP.AllowedOrigins = []string{"https://a.example:8443", "http://[::1]:8080"} }, ""},
		{"origin with path", func(c *Config) { c.HTTP.AllowedOrigins = []string{"https://a.example/"} }, "http.allowed_origins[0]"},
		{"origin without scheme", func(c *Config) { c.HTTP.AllowedOrigins = []string{"a.example"} }, "http.allowed_origins[0]"},
		{"origin upper case", func(c *Config) { c.HTTP.AllowedOrigins = []string{"https://A.example"} }, "http.allowed_origins[0]"},
		{"missing static dir", func(c *Config) { c.HTTP.StaticDir = "testdata/nope" }, "http.static_dir"},
		{"static dir", func(c *Config) { c.HTTP.StaticDir = "testdata" }, ""},
		{"short session", func(c *Config) { c.HTTP.SessionTTL = 30 * time.Second }, "http.session_ttl"},
		{"zero failures", func(c *Config) { c.HTTP.Login.MaxFailuresPerUser = 0 }, "http.login.max_failures_per_user"},
		{"zero source failures", func(c *Config) { c.HTTP.Login.MaxFailuresPerSource = 0 }, "http.login.max_failures_per_source"},
		{"zero window", func(c *Config) { c.HTTP.Login.Window = 0 }, "http.login.window"},
		{"negative lockout", func(c *Config) { c.HTTP.Login.Lockout = -time.Minute }, "http.login.lockout"},
		{"small messages", func(c *Config) { c.WS.MaxMessageBytes = 1023 }, "ws.max_message_bytes"},
		{"huge messages", func(c *Config) { c.WS.MaxMessageBytes = 16<<20 + 1 }, "ws.max_message_bytes"},
		{"zero rate", func(c *Config) { c.WS.Rate = 0 }, "ws.rate"},
		{"zero burst", func(c *Config) { c.WS.Burst = 0 }, "ws.burst"},
		{"port 0", func(c *Config) { c.WebRTC.UDPPort = 0; c.WebRTC.TCPPort = 0 }, ""},
		{"bad public ip", func(c *Config) { c.WebRTC.PublicIP = "host.example" }, "webrtc.public_ip"},
		{"unspecified public ip", func(c *Config) { c.WebRTC.PublicIP = "0.0.0.0" }, "webrtc.public_ip"},
		{"blank interface", func(c *Config) { c.WebRTC.Interfaces = []string{" "} }, "webrtc.interfaces[0]"},
		{"ice without urls", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{}} }, "webrtc.ice_servers[0].urls"},
		{"ice bad scheme", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"stun:a", "http://x"}}} }, "webrtc.ice_servers[0].urls[1]"},
		{"turn without credential", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"turns:a"}, Username: "u"}} }, "webrtc.ice_servers[0].credential"},
		{"stun ok", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"stun:stun.example:3478"}}} }, ""},
		{"one-person meetings", func(c *Config) { c.Meetings.MaxParticipants = 1 }, "meetings.max_participants"},
		{"server smaller than a meeting", func(c *Config) { c.Meetings.MaxParticipantsTotal = 50 }, "meetings.max_participants_total"},
		{"no tracks", func(c *Config) { c.Meetings.MaxTracks = 0 }, "meetings.max_tracks"},
		{"dial-in prefix not digits", func(c *Config) { c.Meetings.DialInPrefix = "8a" }, "meetings.dial_in_prefix"},
		{"sip tls off", func(c *Config) { c.SIP.TLSListen = "" }, ""},
		{"sip listen required", func(c *Config) { c.SIP.Listen = "" }, "sip.listen"},
		{"bad sip domain", func(c *Config) { c.SIP.Domain = "a b" }, "sip.domain"},
		{"odd rtp low", func(c *Config) { c.SIP.RTPPorts = "10001-10999" }, "sip.rtp_ports"},
		{"one rtp pair", func(c *Config) { c.SIP.RTPPorts = "10000-10001" }, "sip.rtp_ports"},
		{"media address not an ip", func(c *Config) { c.SIP.MediaAddress = "pbx.example" }, "sip.media_address"},
		{"media address unspecified", func(c *Config) { c.SIP.MediaAddress = "0.0.0.0" }, "sip.media_address"},
		{"ring timeout too short", func(c *Config) { c.SIP.RingTimeout = time.Second }, "sip.ring_timeout"},
		{"sip cert without key", func(c *Config) { c.SIP.CertFile = "testdata/full.yaml" }, "sip.key_file"},
		{"sip key without cert", func(c *Config) { c.SIP.KeyFile = "testdata/full.yaml" }, "sip.cert_file"},
		{"sip cert missing", func(c *Config) { c.SIP.CertFile, c.SIP.KeyFile = "testdata/none.pem", "testdata/full.yaml" }, "sip.cert_file"},
		{"sip cert files", func(c *Config) { c.SIP.CertFile, c.SIP.KeyFile = "testdata/full.yaml", "testdata/full.yaml" }, ""},
		{"min expires too short", func(c *Config) { c.SIP.RegisterMinExpires = 5 * time.Second }, "sip.register_min_expires"},
		{"min expires not whole seconds", func(c *Config) { c.SIP.RegisterMinExpires = 15500 * time.Millisecond }, "sip.register_min_expires"},
		{"max expires below min", func(c *Config) { c.SIP.RegisterMaxExpires = 30 * time.Second }, "sip.register_max_expires"},
		{"max expires over a day", func(c *Config) { c.SIP.RegisterMaxExpires = 25 * time.Hour }, "sip.register_max_expires"},
		{"qualify too often", func(c *Config) { c.SIP.QualifyInterval = 100 * time.Millisecond }, "sip.qualify_interval"},
		{"no qualify misses", func(c *Config) { c.SIP.QualifyMisses = 0 }, "sip.qualify_misses"},
		{"no digest algorithms", func(c *Config) { c.SIP.DigestAlgorithms = nil }, "sip.digest_algorithms"},
		{"unknown digest algorithm", func(c *Config) { c.SIP.DigestAlgorithms = []string{"SHA-512-256"} }, "sip.digest_algorithms[0]"},
		{"digest algorithm twice", func(c *Config) { c.SIP.DigestAlgorithms = []string{"MD5", "MD5"} }, "sip.digest_algorithms[1]"},
		{"md5 only", func(c *Config) { c.SIP.DigestAlgorithms = []string{"MD5"} }, ""},
		{"no source failures", func(c *Config) { c.SIP.Auth.MaxFailuresPerSource = 0 }, "sip.auth.max_failures_per_source"},
		{"no extension failures", func(c *Config) { c.SIP.Auth.MaxFailuresPerExtension = 0 }, "sip.auth.max_failures_per_extension"},
		{"no block", func(c *Config) { c.SIP.Auth.BlockFor = 0 }, "sip.auth.block_for"},
		{"negative request rate", func(c *Config) { c.SIP.Auth.MaxRequestsPerSource = -1 }, "sip.auth.max_requests_per_source"},
		{"rtp low above high", func(c *Config) { c.SIP.RTPPorts = "11000-10000" }, "sip.rtp_ports"},
		{"rtp privileged", func(c *Config) { c.SIP.RTPPorts = "1000-2000" }, "sip.rtp_ports"},
		{"rtp not a range", func(c *Config) { c.SIP.RTPPorts = "10000" }, "sip.rtp_ports"},
		{"mqtt off", func(c *Config) { c.MQTT.Listen = "" }, ""},
		{"mqtt url ok", func(c *Config) { c.MQTT.URL = "ws://broker.example:8080/mqtt" }, ""},
		{"mqtt url scheme", func(c *Config) { c.MQTT.URL = "http://broker.example" }, "mqtt.url"},
		{"mqtt url no host", func(c *Config) { c.MQTT.URL = "mqtt://" }, "mqtt.url"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t)
			tt.modify(c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			checkOneLine(t, err)
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tt.key || ce.Expected == "" {
				t.Errorf("got %v, want an *Error for %s", err, tt.key)
			}
		})
	}
}

func TestValidateOrderIsDeterministic(t *testing.T) {
	c := mustLoad(t)
	c.Log.Level = "bad"
	c.HTTP.Listen = "bad"
	c.WS.Burst = 0
	for range 5 {
		var ce *Error
		if err := c.Validate(); !errors.As(err, &ce) || ce.Key != "http.listen" {
			t.Fatalf("got %v, want the http.listen error first", err)
		}
	}
}

func TestSecretsRedacted(t *testing.T) {
	c, err := LoadWithEnv("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"turn-secret-1", "mqtt-secret-2"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("loaded", "config", c)
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("loaded", "config", c, "ice", c.WebRTC.ICEServers[1])
	outputs := map[string]string{
		"String":      c.String(),
		"%v":          fmt.Sprintf("%v", c),
		"%+v":         fmt.Sprintf("%+v", c),
		"ice %v":      fmt.Sprintf("%v", c.WebRTC.ICEServers),
		"slog json":   logged.String(),
		"slog text":   text.String(),
		"Redacted %v": fmt.Sprintf("%+v", *c.Redacted()),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows secret %q: %s", name, s, out)
			}
		}
	}
	if !strings.Contains(logged.String(), `"http.listen":"127.0.0.1:9443"`) {
		t.Errorf("slog output lacks http.listen: %s", logged.String())
	}
	r := c.Redacted()
	if got, want := r.WebRTC.ICEServers[1].Credential, "REDACTED"; got != want {
		t.Errorf("redacted credential = %q, want %q", got, want)
	}
	if got, want := r.MQTT.URL, "mqtts://civic:xxxxx@broker.city.example:8883"; got != want {
		t.Errorf("redacted mqtt.url = %q, want %q", got, want)
	}
	if got, want := c.WebRTC.ICEServers[1].Credential, "turn-secret-1"; got != want {
		t.Errorf("Redacted changed the original: credential = %q, want %q", got, want)
	}
	r.HTTP.Hostnames[0] = "changed"
	if c.HTTP.Hostnames[0] == "changed" {
		t.Error("Redacted shares list storage with the original")
	}
}

func TestUnknownEnv(t *testing.T) {
	env := []string{"CIVIC_HTTP_LISTEN=:1", "CIVIC_ADMIN_PASSWORD=x", "CIVIC_HTTP_LISTN=:1", "PATH=/bin", "CIVIC_ZZ=1", "CIVIC_ZZ=2"}
	got := UnknownEnv(env)
	want := []string{"CIVIC_HTTP_LISTN", "CIVIC_ZZ"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownEnv = %v, want %v", got, want)
	}
}

func TestEnvVar(t *testing.T) {
	tests := []struct{ key, want string }{
		{"http.listen", "CIVIC_HTTP_LISTEN"},
		{"data_dir", "CIVIC_DATA_DIR"},
		{"http.login.max_failures_per_user", "CIVIC_HTTP_LOGIN_MAX_FAILURES_PER_USER"},
	}
	for _, tt := range tests {
		if got := EnvVar(tt.key); got != tt.want {
			t.Errorf("EnvVar(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	seen := make(map[string]string)
	for _, k := range Keys() {
		if other, dup := seen[EnvVar(k)]; dup {
			t.Errorf("keys %q and %q share %s", other, k, EnvVar(k))
		}
		seen[EnvVar(k)] = k
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"abc", `"abc"`},
		{"a\nb", `"a\nb"`},
		{nil, "null"},
		{42, "42"},
		{90 * time.Second, "1m30s"},
		{[]string{"a", "b"}, `["a","b"]`},
		{strings.Repeat("x", 200), `"` + strings.Repeat("x", maxValueRunes) + `"...`},
	}
	for _, tt := range tests {
		if got := formatValue(tt.in); got != tt.want {
			t.Errorf("formatValue(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	e := &Error{Key: "k", Value: shape("x\ny"), Expected: "z\r\n"}
	if got, want := e.Error(), `config: k = x\ny: expected z\r\n`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{12 * time.Hour, "12h"},
		{15 * time.Minute, "15m"},
		{90 * time.Minute, "1h30m"},
		{90 * time.Second, "1m30s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		if got := shortDuration(tt.in); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
