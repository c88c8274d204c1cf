package configs

import (
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes as the config file: Load must never
// panic, and any error must be one line. The seeds are kept small because
// the engine minimizes each new interesting input for up to
// -fuzzminimizetime (60s by default), during which it reports 0 execs/sec;
// run it with, for example, -fuzz FuzzLoad -fuzzminimizetime 5s.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(withoutComments(DefaultYAML())))
	for _, name := range []string{"testdata/full.yaml", "testdata/partial.yaml", "testdata/corrupt.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("http: {listen: \"[::1]:0\", tls: files}\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\n"))
	f.Add([]byte("webrtc:\n  ice_servers: &s [{urls: [turn:x], username: u, credential: c}]\n"))
	f.Add([]byte("<<: {http: {}}\n"))
	f.Add([]byte("? [a]\n: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load("fuzz.yaml", data, nil)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "config: ") {
				t.Fatalf("error is not one line starting with \"config: \": %q", msg)
			}
			return
		}
		if c == nil {
			t.Fatal("no config and no error")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate again: %v", err)
		}
	})
}

// FuzzEnv sets one key's environment variable to arbitrary text.
func FuzzEnv(f *testing.F) {
	f.Add(uint8(0), "/srv/civic")
	f.Add(uint8(2), "127.0.0.1:0")
	f.Add(uint8(6), "a.example, 10.0.0.5,,")
	f.Add(uint8(15), "1e400")
	f.Add(uint8(21), `[{"urls":["turn:x"],"username":"u","credential":"c"}]`)
	f.Add(uint8(21), `[{"urls":"stun:x"}, null, 1]`)
	keys := Keys()
	f.Fuzz(func(t *testing.T, index uint8, value string) {
		key := keys[int(index)%len(keys)]
		_, err := LoadWithEnv("", []string{EnvVar(key) + "=" + value})
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "config: ") {
				t.Fatalf("%s: error is not one line: %q", key, msg)
			}
		}
	})
}

// withoutComments drops the comment and blank lines of a YAML file.
func withoutComments(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
