package voip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Digest algorithms. By default challenges offer SHA-256 first, then MD5
// for older phones (RFC 8760 section 2.4); see Config.DigestAlgorithms.
const (
	algSHA256 = "SHA-256"
	algMD5    = "MD5"
)

// newHash returns the hash of a digest algorithm, or nil.
func newHash(alg string) hash.Hash {
	switch alg {
	case algMD5:
		return md5.New()
	case algSHA256:
		return sha256.New()
	}
	return nil
}

// hexHash returns H(parts joined by ":") in lower-case hex.
func hexHash(alg string, parts ...string) string {
	h := newHash(alg)
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// computeHA1 is H(username:realm:password), what the store keeps.
func computeHA1(alg, username, realm, password string) string {
	return hexHash(alg, username, realm, password)
}

// credentials is a parsed Authorization header (RFC 7616 section 3.4).
type credentials struct {
	Username, Realm, Nonce, URI, Response string
	Algorithm, Cnonce, QOP, NC, Opaque    string
}

// Limits on what an Authorization header may hold.
const (
	maxAuthHeader = 4096
	maxAuthParams = 32
)

var errBadCredentials = errors.New("malformed Digest credentials")

// parseCredentials parses a Digest Authorization value: the scheme, then
// comma-separated name=value pairs whose values are tokens or quoted
// strings with backslash escapes. Unknown names are ignored.
func parseCredentials(v string) (credentials, error) {
	var c credentials
	if len(v) > maxAuthHeader {
		return c, errBadCredentials
	}
	v = strings.TrimLeft(v, " \t")
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return c, errBadCredentials
	}
	seen := 0
	for {
		rest = strings.TrimLeft(rest, " \t\r\n,")
		if rest == "" {
			break
		}
		if seen++; seen > maxAuthParams {
			return c, errBadCredentials
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return c, errBadCredentials
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var value string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i, closed := 1, false
			for i < len(rest) {
				ch := rest[i]
				if ch == '\\' && i+1 < len(rest) {
					b.WriteByte(rest[i+1])
					i += 2
					continue
				}
				if ch == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(ch)
				i++
			}
			if !closed {
				return c, errBadCredentials
			}
			value, rest = b.String(), rest[i:]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return c, errBadCredentials
		}
		switch name {
		case "username":
			c.Username = value
		case "realm":
			c.Realm = value
		case "nonce":
			c.Nonce = value
		case "uri":
			c.URI = value
		case "response":
			c.Response = strings.ToLower(value)
		case "algorithm":
			c.Algorithm = value
		case "cnonce":
			c.Cnonce = value
		case "qop":
			c.QOP = value
		case "nc":
			c.NC = value
		case "opaque":
			c.Opaque = value
		}
	}
	if c.Username == "" || c.Nonce == "" || c.Response == "" || c.URI == "" {
		return c, errBadCredentials
	}
	return c, nil
}

// algorithm returns the credentials' algorithm in canonical form, or ""
// when it is not one we offer. A missing algorithm means MD5.
func (c credentials) algorithm() string {
	switch {
	case c.Algorithm == "" || strings.EqualFold(c.Algorithm, algMD5):
		return algMD5
	case strings.EqualFold(c.Algorithm, algSHA256):
		return algSHA256
	}
	return ""
}

// nonceCount returns nc as a number; ok is false when qop is set and nc
// is not 8 hex digits.
func (c credentials) nonceCount() (uint32, bool) {
	if len(c.NC) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(c.NC, 16, 32)
	return uint32(n), err == nil
}

// wellFormed checks the qop-dependent fields.
func (c credentials) wellFormed() bool {
	switch c.QOP {
	case "":
		return c.Cnonce == "" && c.NC == ""
	case "auth":
		_, ok := c.nonceCount()
		return ok && c.Cnonce != ""
	}
	return false
}

// expectedResponse computes the response a client knowing ha1 sends for
// method (RFC 7616 section 3.4.1; without qop, RFC 2069).
func (c credentials) expectedResponse(alg, ha1, method string) string {
	ha2 := hexHash(alg, method, c.URI)
	if c.QOP == "" {
		return hexHash(alg, ha1, c.Nonce, ha2)
	}
	return hexHash(alg, ha1, c.Nonce, c.NC, c.Cnonce, c.QOP, ha2)
}

// challenge is a WWW-Authenticate value.
func challenge(realm, nonce, alg string, stale bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"`, quoteEscape(realm), nonce, alg)
	if stale {
		b.WriteString(", stale=true")
	}
	return b.String()
}

func quoteEscape(s string) string {
	if !strings.ContainsAny(s, `\"`) {
		return s // the usual case: realms and nonces need no escaping
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// nonceSource makes and checks nonces. A nonce is
// base64url(issued ms | 8 random bytes | HMAC-SHA-256(key, both)[:16]):
// every challenge gets a new one, the server keeps no state per challenge,
// and a forged or altered nonce fails the MAC.
type nonceSource struct {
	key      [32]byte
	lifetime time.Duration
	now      func() time.Time
}

const nonceRaw = 8 + 8 + 16

func newNonceSource(lifetime time.Duration) (*nonceSource, error) {
	n := &nonceSource{lifetime: lifetime, now: time.Now}
	if _, err := rand.Read(n.key[:]); err != nil {
		return nil, fmt.Errorf("sip nonce key: %w", err)
	}
	return n, nil
}

func (n *nonceSource) mac(b []byte) []byte {
	m := hmac.New(sha256.New, n.key[:])
	m.Write(b)
	return m.Sum(nil)[:16]
}

// issue returns a fresh nonce.
func (n *nonceSource) issue() string {
	var b [nonceRaw]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n.now().UnixMilli()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], n.mac(b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// check reports whether nonce is one of ours (valid) and whether it is
// past its lifetime (stale), and when it was issued.
func (n *nonceSource) check(nonce string) (issued time.Time, valid, stale bool) {
	if base64.RawURLEncoding.DecodedLen(len(nonce)) != nonceRaw {
		return time.Time{}, false, false
	}
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceRaw || !hmac.Equal(b[16:], n.mac(b[:16])) {
		return time.Time{}, false, false
	}
	issued = time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8])))
	age := n.now().Sub(issued)
	if age < -time.Minute { // from the future: not ours after a clock jump
		return issued, false, false
	}
	return issued, true, age > n.lifetime
}

// ncTracker remembers the highest nonce count used with each live nonce,
// so a captured request cannot be replayed while its nonce is fresh.
type ncTracker struct {
	mu       sync.Mutex
	lifetime time.Duration
	seen     map[string]ncEntry
	lastGC   time.Time
}

type ncEntry struct {
	nc      uint32
	expires time.Time
}

// maxTrackedNonces bounds the tracker; past it, the oldest half of the
// space is dropped by expiry and, failing that, wholesale.
const maxTrackedNonces = 200_000

func newNCTracker(lifetime time.Duration) *ncTracker {
	return &ncTracker{lifetime: lifetime, seen: make(map[string]ncEntry)}
}

// use records nc for nonce and reports whether it is higher than any
// count used with that nonce before.
func (t *ncTracker) use(nonce string, issued time.Time, nc uint32, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.seen) >= maxTrackedNonces || now.Sub(t.lastGC) > t.lifetime {
		t.lastGC = now
		for k, e := range t.seen {
			if now.After(e.expires) {
				delete(t.seen, k)
			}
		}
		if len(t.seen) >= maxTrackedNonces {
			clear(t.seen)
		}
	}
	e, ok := t.seen[nonce]
	if ok && nc <= e.nc {
		return false
	}
	t.seen[nonce] = ncEntry{nc: nc, expires: issued.Add(t.lifetime + time.Minute)}
	return true
}
