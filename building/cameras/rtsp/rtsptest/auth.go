package rtsptest

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// realm is the Digest and Basic realm.
const realm = "rtsptest"

// authorized checks a request's credentials against the mount, and
// answers 401 itself when they fail.
func (c *conn) authorized(req *request, m *mount) bool {
	h := req.h["authorization"]
	if m.cfg.Fault == Fault401 {
		c.challenge(req, m, false)
		return false
	}
	if !m.cfg.Digest {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(m.cfg.User+":"+m.cfg.Password))
		if subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1 {
			return true
		}
		c.challenge(req, m, false)
		return false
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Digest") {
		c.challenge(req, m, false)
		return false
	}
	p := authParams(rest)
	if !digestValid(p, req, m) {
		c.challenge(req, m, false)
		return false
	}
	// The response is right for its nonce; is the nonce still ours?
	c.s.mu.Lock()
	exp, known := c.s.nonces[p["nonce"]]
	c.s.mu.Unlock()
	if !known || time.Now().After(exp) {
		c.challenge(req, m, true)
		return false
	}
	if m.cfg.Fault == FaultStaleNonce && !c.staleDone {
		c.staleDone = true
		c.s.mu.Lock()
		delete(c.s.nonces, p["nonce"])
		c.s.mu.Unlock()
		c.challenge(req, m, true)
		return false
	}
	return true
}

// digestValid checks a Digest answer (RFC 2617 3.2.2), MD5 only.
func digestValid(p map[string]string, req *request, m *mount) bool {
	if p["username"] != m.cfg.User || p["realm"] != realm || p["uri"] != req.url || p["nonce"] == "" {
		return false
	}
	if a := p["algorithm"]; a != "" && !strings.EqualFold(a, "MD5") {
		return false
	}
	h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := h(m.cfg.User + ":" + realm + ":" + m.cfg.Password)
	ha2 := h(req.method + ":" + req.url)
	var want string
	if m.cfg.NoQop {
		if p["qop"] != "" {
			return false
		}
		want = h(ha1 + ":" + p["nonce"] + ":" + ha2)
	} else {
		if p["qop"] != "auth" || len(p["nc"]) != 8 || p["cnonce"] == "" {
			return false
		}
		want = h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	}
	return subtle.ConstantTimeCompare([]byte(p["response"]), []byte(want)) == 1
}

// challenge answers 401 with a fresh challenge: a new nonce each time,
// good for nonceTTL.
func (c *conn) challenge(req *request, m *mount, stale bool) {
	var v string
	if m.cfg.Digest {
		nonce := randomHex(16)
		now := time.Now()
		c.s.mu.Lock()
		for n, exp := range c.s.nonces {
			if now.After(exp) {
				delete(c.s.nonces, n)
			}
		}
		c.s.nonces[nonce] = now.Add(nonceTTL)
		c.s.mu.Unlock()
		v = fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5`, realm, nonce)
		if !m.cfg.NoQop {
			v += `, qop="auth"`
		}
		if stale {
			v += ", stale=TRUE"
		}
	} else {
		v = fmt.Sprintf(`Basic realm="%s"`, realm)
	}
	c.reply(401, req, []string{"WWW-Authenticate", v}, nil)
}

// authParams parses `name="value", name=token, ...`.
func authParams(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		s = strings.TrimLeft(s, " \t,")
		name, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		name = strings.ToLower(strings.TrimSpace(name))
		rest = strings.TrimLeft(rest, " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			val, s = b.String(), rest[min(i+1, len(rest)):]
		} else {
			val, s, _ = strings.Cut(rest, ",")
			val = strings.TrimSpace(val)
		}
		if _, dup := out[name]; !dup {
			out[name] = val
		}
	}
	return out
}
