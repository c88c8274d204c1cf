package rtsp

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// challenge is one scheme offered in a WWW-Authenticate field.
type challenge struct {
	scheme string            // lower case: "basic", "digest", ...
	params map[string]string // lower-case names, unquoted values
}

// maxChallenges bounds what one 401 may offer.
const maxChallenges = 16

// parseChallenges parses WWW-Authenticate values (RFC 7235 4.1: one or
// more challenges per value, each a scheme and comma-separated
// auth-params). Token68 forms ("Negotiate abc==") are skipped over.
func parseChallenges(values []string) ([]challenge, error) {
	var out []challenge
	for _, v := range values {
		p := authParser{s: v}
		for {
			p.skip(" \t,")
			if p.eof() {
				break
			}
			scheme := p.token()
			if scheme == "" {
				return nil, malformed("WWW-Authenticate %s", snippet([]byte(v)))
			}
			if len(out) == maxChallenges {
				return nil, malformed("more than %d auth challenges", maxChallenges)
			}
			ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
			if err := p.params(ch.params); err != nil {
				return nil, err
			}
			out = append(out, ch)
		}
	}
	return out, nil
}

// authParser walks one header value.
type authParser struct {
	s   string
	pos int
}

func (p *authParser) eof() bool { return p.pos >= len(p.s) }

func (p *authParser) skip(set string) {
	for p.pos < len(p.s) && strings.IndexByte(set, p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *authParser) token() string {
	start := p.pos
	for p.pos < len(p.s) && isToken([]byte{p.s[p.pos]}) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// params reads "name=value" pairs until the next scheme or the end.
func (p *authParser) params(into map[string]string) error {
	for {
		p.skip(" \t")
		start := p.pos
		name := p.token()
		p.skip(" \t")
		if name == "" || p.eof() || p.s[p.pos] != '=' {
			// Not a parameter: the next challenge's scheme, or the end.
			p.pos = start
			if name == "" && !p.eof() && p.s[p.pos] != ',' {
				return malformed("WWW-Authenticate %s", snippet([]byte(p.s)))
			}
			return nil
		}
		p.pos++ // '='
		p.skip(" \t")
		var val string
		if !p.eof() && p.s[p.pos] == '"' {
			v, err := p.quoted()
			if err != nil {
				return err
			}
			val = v
		} else {
			val = p.token()
			p.skip("=") // token68 padding
		}
		if k := strings.ToLower(name); into[k] == "" {
			into[k] = val
		}
		p.skip(" \t")
		if p.eof() {
			return nil
		}
		if p.s[p.pos] != ',' {
			return malformed("WWW-Authenticate %s", snippet([]byte(p.s)))
		}
		p.pos++
	}
}

// quoted reads a quoted-string with backslash escapes.
func (p *authParser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.pos < len(p.s) {
				b.WriteByte(p.s[p.pos])
				p.pos++
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", malformed("unterminated quoted string in WWW-Authenticate")
}

// authenticator answers one server's challenge on every request that
// follows it. It is not safe for concurrent use; conn guards it.
type authenticator struct {
	user, pass string
	basic      bool
	realm      string
	nonce      string
	opaque     string
	algorithm  string // as the server spelled it, echoed back; "" for none
	sess       bool   // -sess variant: HA1 also covers nonce and cnonce
	newHash    func() hash.Hash
	qop        string        // "auth" or "" (RFC 2069 compatibility)
	nc         uint32        // requests sent with this nonce
	cnonce     func() string // nil: random; tests pin it to RFC examples
}

// newAuthenticator picks the strongest challenge we can answer: Digest
// with SHA-256, then Digest with MD5, then Basic.
func newAuthenticator(chs []challenge, user, pass string) (*authenticator, error) {
	var best *authenticator
	rank := 0
	for _, ch := range chs {
		switch ch.scheme {
		case "basic":
			if rank < 1 {
				best, rank = &authenticator{user: user, pass: pass, basic: true}, 1
			}
		case "digest":
			a, ok := digestFrom(ch, user, pass)
			if !ok {
				continue
			}
			r := 2
			if strings.HasPrefix(strings.ToUpper(a.algorithm), "SHA-256") {
				r = 3
			}
			if r > rank {
				best, rank = a, r
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no supported auth scheme offered", ErrAuth)
	}
	return best, nil
}

// digestFrom builds a Digest answerer from a challenge, or false when it
// asks for what we don't do (an unknown algorithm, only auth-int).
func digestFrom(ch challenge, user, pass string) (*authenticator, bool) {
	a := &authenticator{user: user, pass: pass, realm: ch.params["realm"], nonce: ch.params["nonce"],
		opaque: ch.params["opaque"], algorithm: ch.params["algorithm"]}
	if a.nonce == "" || !headerSafe(a.realm) || !headerSafe(a.nonce) || !headerSafe(a.opaque) || !headerSafe(a.algorithm) {
		return nil, false
	}
	switch strings.ToUpper(a.algorithm) {
	case "", "MD5":
		a.newHash = md5.New
	case "MD5-SESS":
		a.newHash, a.sess = md5.New, true
	case "SHA-256":
		a.newHash = sha256.New
	case "SHA-256-SESS":
		a.newHash, a.sess = sha256.New, true
	default:
		return nil, false
	}
	if q, ok := ch.params["qop"]; ok {
		for o := range strings.SplitSeq(q, ",") {
			if strings.EqualFold(strings.TrimSpace(o), "auth") {
				a.qop = "auth"
			}
		}
		if a.qop == "" {
			return nil, false // only auth-int: we would have to hash bodies
		}
	}
	return a, true
}

// renew takes a fresh nonce from a stale=true challenge (RFC 2617 3.2.1:
// the credentials were right, only the nonce expired).
func (a *authenticator) renew(chs []challenge) bool {
	if a.basic {
		return false
	}
	for _, ch := range chs {
		if ch.scheme == "digest" && strings.EqualFold(ch.params["stale"], "true") {
			n, ok := digestFrom(ch, a.user, a.pass)
			if ok {
				*a = *n
				return true
			}
		}
	}
	return false
}

// header returns the Authorization value for one request.
func (a *authenticator) header(method, uri string) string {
	if a.basic {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.user+":"+a.pass))
	}
	h := func(parts ...string) string {
		hh := a.newHash()
		hh.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(hh.Sum(nil))
	}
	var cnonce, nc string
	if a.qop != "" || a.sess {
		if a.cnonce != nil {
			cnonce = a.cnonce()
		} else {
			var b [12]byte
			_, _ = rand.Read(b[:])
			cnonce = hex.EncodeToString(b[:])
		}
	}
	ha1 := h(a.user, a.realm, a.pass)
	if a.sess {
		ha1 = h(ha1, a.nonce, cnonce)
	}
	ha2 := h(method, uri)
	var resp string
	if a.qop != "" {
		a.nc++
		nc = fmt.Sprintf("%08x", a.nc)
		resp = h(ha1, a.nonce, nc, cnonce, a.qop, ha2)
	} else {
		resp = h(ha1, a.nonce, ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s, response="%s"`,
		quote(a.user), quote(a.realm), quote(a.nonce), quote(uri), resp)
	if a.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", a.algorithm)
	}
	if a.opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(a.opaque))
	}
	if a.qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%s, cnonce="%s"`, a.qop, nc, cnonce)
	} else if a.sess {
		fmt.Fprintf(&b, `, cnonce="%s"`, cnonce)
	}
	return b.String()
}

// quote makes a quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// headerSafe reports whether s can go into a header we send: no CR, LF
// or other control characters that would let a server split our request.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}
