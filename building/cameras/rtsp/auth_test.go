package rtsp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []challenge
	}{
		{"digest", []string{`Digest realm="IP Camera(23456)", nonce="a1b2", stale="FALSE"`},
			[]challenge{{"digest", map[string]string{"realm": "IP Camera(23456)", "nonce": "a1b2", "stale": "FALSE"}}}},
		{"two fields", []string{`Digest realm="r", nonce="n", qop="auth,auth-int"`, `Basic realm="r"`},
			[]challenge{{"digest", map[string]string{"realm": "r", "nonce": "n", "qop": "auth,auth-int"}},
				{"basic", map[string]string{"realm": "r"}}}},
		{"two in one field", []string{`Basic realm="a, b", Digest realm=r,nonce=n , algorithm=MD5`},
			[]challenge{{"basic", map[string]string{"realm": "a, b"}},
				{"digest", map[string]string{"realm": "r", "nonce": "n", "algorithm": "MD5"}}}},
		{"escapes", []string{`Digest realm="say \"hi\"", nonce="x\\y"`},
			[]challenge{{"digest", map[string]string{"realm": `say "hi"`, "nonce": `x\y`}}}},
		{"token68", []string{`Negotiate YWJj==, Basic realm=x`},
			[]challenge{{"negotiate", map[string]string{"ywjj": ""}}, {"basic", map[string]string{"realm": "x"}}}},
		{"bare scheme", []string{`Basic`}, []challenge{{"basic", map[string]string{}}}},
	}
	for _, tt := range tests {
		got, err := parseChallenges(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: parseChallenges = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{`Digest realm="open`, `"quoted"`, `Digest realm=x nonce=y`, `=x`} {
		if got, err := parseChallenges([]string{bad}); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseChallenges(%q) = %+v, %v; want ErrMalformed", bad, got, err)
		}
	}
}

// digestField picks name="value" out of an Authorization header.
func digestField(h, name string) string {
	p := authParser{s: strings.TrimPrefix(h, "Digest ")}
	m := map[string]string{}
	_ = p.params(m)
	return m[name]
}

// TestDigestResponse checks our answers against the RFCs' own examples.
func TestDigestResponse(t *testing.T) {
	tests := []struct {
		name, challenge, user, pass, cnonce, method, uri, want string
	}{
		{"RFC 2617 3.5", `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			"Mufasa", "Circle Of Life", "0a4f113b", "GET", "/dir/index.html", "6629fae49393a05397450978507c4ef1"},
		{"RFC 7616 3.9.1 MD5", `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			"Mufasa", "Circle of Life", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "GET", "/dir/index.html", "8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 3.9.1 SHA-256", `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			"Mufasa", "Circle of Life", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "GET", "/dir/index.html", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
		// RFC 2069 (no qop): MD5(MD5(user:realm:pass):nonce:MD5(method:uri)).
		{"no qop", `Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			"Mufasa", "Circle Of Life", "", "GET", "/dir/index.html", "670fd8c2df070c60b045671b8b24ff02"},
	}
	for _, tt := range tests {
		chs, err := parseChallenges([]string{tt.challenge})
		if err != nil {
			t.Fatal(err)
		}
		a, err := newAuthenticator(chs, tt.user, tt.pass)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a.cnonce = func() string { return tt.cnonce }
		h := a.header(tt.method, tt.uri)
		if got := digestField(h, "response"); got != tt.want {
			t.Errorf("%s: response %s, want %s (header %s)", tt.name, got, tt.want, h)
		}
		if tt.cnonce != "" && (digestField(h, "nc") != "00000001" || digestField(h, "qop") != "auth") {
			t.Errorf("%s: header %s lacks nc=00000001 and qop=auth", tt.name, h)
		}
		if strings.Contains(tt.challenge, "opaque") && digestField(h, "opaque") == "" {
			t.Errorf("%s: opaque not echoed: %s", tt.name, h)
		}
		if n := digestField(a.header(tt.method, tt.uri), "nc"); tt.cnonce != "" && n != "00000002" {
			t.Errorf("%s: second request has nc %s, want 00000002", tt.name, n)
		}
	}
}

func TestNewAuthenticator(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "basic", the algorithm, or "" for ErrAuth
	}{
		{"digest over basic", `Basic realm="r", Digest realm="r", nonce="n"`, "MD5"},
		{"sha-256 over md5", `Digest realm="r", nonce="n", algorithm=MD5, Digest realm="r", nonce="n", algorithm=SHA-256`, "SHA-256"},
		{"basic only", `Basic realm="r"`, "basic"},
		{"auth-int only", `Digest realm="r", nonce="n", qop="auth-int"`, ""},
		{"unknown algorithm", `Digest realm="r", nonce="n", algorithm=SHA-512-256`, ""},
		{"no nonce", `Digest realm="r"`, ""},
		{"CR in nonce", "Digest realm=\"r\", nonce=\"n\rX-Evil: 1\"", ""},
		{"unknown scheme", `Bearer realm="r"`, ""},
	}
	for _, tt := range tests {
		chs, err := parseChallenges([]string{tt.in})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a, err := newAuthenticator(chs, "u", "p")
		switch {
		case tt.want == "":
			if !errors.Is(err, ErrAuth) {
				t.Errorf("%s: %+v, %v; want ErrAuth", tt.name, a, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == "basic" && !a.basic, tt.want != "basic" && (a.basic || !strings.EqualFold(a.algorithm, tt.want) && !(tt.want == "MD5" && a.algorithm == "")):
			t.Errorf("%s: chose %+v, want %s", tt.name, a, tt.want)
		}
	}
	chs, _ := parseChallenges([]string{`Basic realm="r"`})
	a, _ := newAuthenticator(chs, "Aladdin", "open sesame")
	if got := a.header("DESCRIBE", "rtsp://h/"); got != "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==" {
		t.Errorf("Basic header %q", got)
	}
}

// TestRenew: a stale=true challenge renews the nonce; others do not.
func TestRenew(t *testing.T) {
	chs, _ := parseChallenges([]string{`Digest realm="r", nonce="old", qop="auth"`})
	a, _ := newAuthenticator(chs, "u", "p")
	a.header("DESCRIBE", "rtsp://h/")
	if notStale, _ := parseChallenges([]string{`Digest realm="r", nonce="new"`}); a.renew(notStale) {
		t.Error("renewed on a challenge without stale=true")
	}
	stale, _ := parseChallenges([]string{`Digest realm="r", nonce="new", qop="auth", stale=TRUE`})
	if !a.renew(stale) || a.nonce != "new" || a.nc != 0 {
		t.Errorf("renew: %+v", a)
	}
}
