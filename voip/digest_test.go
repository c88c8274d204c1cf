package voip

import (
	"strings"
	"testing"
	"time"
)

// TestDigestVectors checks the response computation against the worked
// examples of RFC 7616 section 3.9.1 (MD5 and SHA-256) and RFC 2617
// section 3.5 (MD5).
func TestDigestVectors(t *testing.T) {
	rfc7616 := credentials{
		Username: "Mufasa",
		Realm:    "http-auth@example.org",
		Nonce:    "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
		URI:      "/dir/index.html",
		Cnonce:   "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
		QOP:      "auth",
		NC:       "00000001",
	}
	rfc2617 := credentials{
		Username: "Mufasa",
		Realm:    "testrealm@host.com",
		Nonce:    "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		URI:      "/dir/index.html",
		Cnonce:   "0a4f113b",
		QOP:      "auth",
		NC:       "00000001",
	}
	tests := []struct {
		name     string
		c        credentials
		alg      string
		password string
		want     string
	}{
		{"RFC 7616 MD5", rfc7616, algMD5, "Circle of Life", "8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 SHA-256", rfc7616, algSHA256, "Circle of Life", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		{"RFC 2617 MD5", rfc2617, algMD5, "Circle Of Life", "6629fae49393a05397450978507c4ef1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha1 := computeHA1(tt.alg, tt.c.Username, tt.c.Realm, tt.password)
			if got := tt.c.expectedResponse(tt.alg, ha1, "GET"); got != tt.want {
				t.Errorf("response = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	full := `Digest username="1001", realm="pbx.city.example", nonce="abc", uri="sip:pbx.city.example", ` +
		`response="0123ABCD", algorithm=SHA-256, cnonce="xyz", qop=auth, nc=0000000a, opaque=""`
	tests := []struct {
		name string
		in   string
		want credentials
		ok   bool
	}{
		{"full", full, credentials{Username: "1001", Realm: "pbx.city.example", Nonce: "abc", URI: "sip:pbx.city.example",
			Response: "0123abcd", Algorithm: "SHA-256", Cnonce: "xyz", QOP: "auth", NC: "0000000a"}, true},
		{"lower-case scheme, no spaces", `digest username="1001",realm="r",nonce="n",uri="sip:a",response="ff"`,
			credentials{Username: "1001", Realm: "r", Nonce: "n", URI: "sip:a", Response: "ff"}, true},
		{"escapes and commas in quotes", `Digest username="a\"b", realm="x, y", nonce="n", uri="sip:a;x=1,2", response="ff"`,
			credentials{Username: `a"b`, Realm: "x, y", Nonce: "n", URI: "sip:a;x=1,2", Response: "ff"}, true},
		{"unknown parameter ignored", `Digest foo=bar, username="1", nonce="n", uri="u", response="r", realm="x"`,
			credentials{Username: "1", Realm: "x", Nonce: "n", URI: "u", Response: "r"}, true},
		{"basic scheme", `Basic dXNlcjpwYXNz`, credentials{}, false},
		{"no parameters", `Digest`, credentials{}, false},
		{"missing response", `Digest username="1", nonce="n", uri="u"`, credentials{}, false},
		{"unterminated quote", `Digest username="1, nonce="n", uri="u", response="r`, credentials{}, false},
		{"junk after value", `Digest username="1"x, nonce="n", uri="u", response="r"`, credentials{}, false},
		{"parameter without value", `Digest username, nonce="n"`, credentials{}, false},
		{"too long", `Digest username="` + strings.Repeat("a", maxAuthHeader) + `"`, credentials{}, false},
		{"too many parameters", `Digest ` + strings.Repeat("a=b, ", maxAuthParams+1), credentials{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCredentials(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCredentialsChecks(t *testing.T) {
	tests := []struct {
		c       credentials
		alg     string
		wellOK  bool
		ncValue uint32
	}{
		{credentials{}, algMD5, true, 0},
		{credentials{Algorithm: "md5"}, algMD5, true, 0},
		{credentials{Algorithm: "sha-256", QOP: "auth", NC: "000000ff", Cnonce: "c"}, algSHA256, true, 255},
		{credentials{Algorithm: "MD5-sess"}, "", true, 0},
		{credentials{QOP: "auth", NC: "1", Cnonce: "c"}, algMD5, false, 0},
		{credentials{QOP: "auth", NC: "00000001"}, algMD5, false, 1},
		{credentials{QOP: "auth-int", NC: "00000001", Cnonce: "c"}, algMD5, false, 1},
		{credentials{NC: "00000001"}, algMD5, false, 1},
	}
	for i, tt := range tests {
		if got := tt.c.algorithm(); got != tt.alg {
			t.Errorf("%d: algorithm() = %q, want %q", i, got, tt.alg)
		}
		if got := tt.c.wellFormed(); got != tt.wellOK {
			t.Errorf("%d: wellFormed() = %v, want %v", i, got, tt.wellOK)
		}
		if n, _ := tt.c.nonceCount(); n != tt.ncValue {
			t.Errorf("%d: nonceCount() = %d, want %d", i, n, tt.ncValue)
		}
	}
}

func TestChallengeHeader(t *testing.T) {
	got := challenge(`a"b`, "NONCE", algSHA256, true)
	want := `Digest realm="a\"b", nonce="NONCE", algorithm=SHA-256, qop="auth", stale=true`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	c, err := parseCredentials(strings.Replace(got, "Digest ", `Digest username="u", uri="u", response="r", `, 1))
	if err != nil || c.Realm != `a"b` || c.Nonce != "NONCE" {
		t.Errorf("the challenge does not parse back: %+v %v", c, err)
	}
}

func TestNonces(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	n, err := newNonceSource(5 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n.now = func() time.Time { return now }
	a, b := n.issue(), n.issue()
	if a == b {
		t.Fatal("two challenges got the same nonce")
	}
	if issued, valid, stale := n.check(a); !valid || stale || !issued.Equal(now) {
		t.Errorf("fresh nonce: issued %v valid %v stale %v", issued, valid, stale)
	}
	n.now = func() time.Time { return now.Add(5*time.Minute + time.Millisecond) }
	if _, valid, stale := n.check(a); !valid || !stale {
		t.Errorf("old nonce: valid %v stale %v, want valid and stale", valid, stale)
	}
	n.now = func() time.Time { return now.Add(-2 * time.Minute) }
	if _, valid, _ := n.check(a); valid {
		t.Error("a nonce from the future is valid")
	}
	n.now = func() time.Time { return now }
	tampered := []byte(a)
	tampered[3] ^= 1
	other, _ := newNonceSource(5 * time.Minute)
	for _, bad := range []string{string(tampered), "", "abc", a + "A", strings.Repeat("A", len(a)), other.issue()} {
		if _, valid, _ := n.check(bad); valid {
			t.Errorf("nonce %q is valid", bad)
		}
	}
}

func TestNonceCounts(t *testing.T) {
	tr := newNCTracker(time.Minute)
	now := time.Now()
	steps := []struct {
		nonce string
		nc    uint32
		want  bool
	}{
		{"a", 1, true}, {"a", 1, false}, {"a", 2, true}, {"a", 1, false}, {"b", 1, true}, {"a", 5, true}, {"a", 5, false},
	}
	for i, s := range steps {
		if got := tr.use(s.nonce, now, s.nc, now); got != s.want {
			t.Errorf("step %d: use(%s, %d) = %v, want %v", i, s.nonce, s.nc, got, s.want)
		}
	}
	// Entries of dead nonces are dropped.
	later := now.Add(3 * time.Minute)
	tr.use("c", later, 1, later)
	if _, ok := tr.seen["a"]; ok {
		t.Error("the count of an expired nonce is still kept")
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(time.Minute)
	now := time.Now()
	for i := 1; i < 3; i++ {
		if _, blocked := l.fail("10.0.0.1", 3, now); blocked {
			t.Fatalf("blocked after %d failures, want 3", i)
		}
	}
	until, blocked := l.fail("10.0.0.1", 3, now)
	if !blocked || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("third failure: blocked %v until %v", blocked, until)
	}
	if _, locked := l.locked("10.0.0.1", now.Add(59*time.Second)); !locked {
		t.Error("not blocked within the block")
	}
	if _, locked := l.locked("10.0.0.2", now); locked {
		t.Error("another key is blocked")
	}
	if _, again := l.fail("10.0.0.1", 3, now.Add(time.Second)); again {
		t.Error("a failure while blocked blocked again")
	}
	if _, locked := l.locked("10.0.0.1", now.Add(time.Minute)); locked {
		t.Error("still blocked after the block")
	}
	// Failures spread wider than the period never block.
	for i := range 10 {
		if _, blocked := l.fail("10.0.0.3", 3, now.Add(time.Duration(i)*31*time.Second)); blocked {
			t.Fatalf("blocked at failure %d although only two fall within a minute", i+1)
		}
	}
	l.fail("10.0.0.4", 3, now)
	l.fail("10.0.0.4", 3, now)
	l.reset("10.0.0.4")
	if _, blocked := l.fail("10.0.0.4", 3, now); blocked {
		t.Error("reset did not forget the failures")
	}
}

func TestParseExpires(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 3600 ", time.Hour, true},
		{"99999999999", (1<<32 - 1) * time.Second, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"60s", 0, false},
	}
	for _, tt := range tests {
		got, err := parseExpires(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseExpires(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
