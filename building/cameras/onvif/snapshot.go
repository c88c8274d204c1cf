package onvif

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxSnapshot bounds a snapshot; a 4K JPEG at high quality is 2-3 MiB.
const maxSnapshot = 8 << 20

// Snapshot fetches a snapshot (from SnapshotURI) with an HTTP GET,
// answering the Basic or Digest challenge the camera sends. Credentials
// go only to the camera's own host: a snapshot URI naming another host
// gets no password. It returns the image and its content type, and fails
// for anything that isn't an image or is over 8 MiB.
func (c *Client) Snapshot(ctx context.Context, uri string) ([]byte, string, error) {
	if c.urlErr != nil {
		return nil, "", c.urlErr
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", errors.New("onvif snapshot: the URI must be http(s)://host/path")
	}
	u.User = nil // ours are the credentials; never send ones from a URI
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.get(ctx, u, "")
	if err != nil {
		return nil, "", fmt.Errorf("onvif snapshot: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		chs := parseChallenges(resp.Header.Values("Www-Authenticate"))
		drain(resp)
		if !strings.EqualFold(u.Hostname(), c.device.Hostname()) {
			return nil, "", fmt.Errorf("onvif snapshot: %w: %s asks for a password, but it is not the camera's host %s, so none was sent",
				ErrAuth, clean(u.Host, 80), c.device.Host)
		}
		if c.user == "" {
			return nil, "", fmt.Errorf("onvif snapshot: %w: the camera wants a user name and password", ErrAuth)
		}
		h, err := authorization(chs, http.MethodGet, u.RequestURI(), c.user, c.password)
		if err != nil {
			return nil, "", fmt.Errorf("onvif snapshot: %w", err)
		}
		if resp, err = c.get(ctx, u, h); err != nil {
			return nil, "", fmt.Errorf("onvif snapshot: %w", err)
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, "", fmt.Errorf("onvif snapshot: %w", c.authErr(&statusError{resp.StatusCode, resp.Status}))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("onvif snapshot: HTTP %s", resp.Status)
	}
	data, err := readLimited(resp.Body, maxSnapshot)
	if err != nil {
		return nil, "", fmt.Errorf("onvif snapshot: %w", err)
	}
	ct, err := imageType(resp.Header.Get("Content-Type"), data)
	if err != nil {
		return nil, "", fmt.Errorf("onvif snapshot: %w", err)
	}
	return data, ct, nil
}

func (c *Client) get(ctx context.Context, u *url.URL, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "image/*")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return c.hc.Do(req)
}

// imageType checks the body is an image. Cameras often send
// application/octet-stream or nothing, so the bytes decide when the
// header doesn't say image/.
func imageType(header string, data []byte) (string, error) {
	if len(data) == 0 {
		return "", errors.New("the camera sent an empty snapshot")
	}
	mt, _, _ := mime.ParseMediaType(header)
	sniffed := http.DetectContentType(data)
	if strings.HasPrefix(sniffed, "image/") {
		return sniffed, nil
	}
	if strings.HasPrefix(mt, "image/") && !strings.HasPrefix(sniffed, "text/") {
		return mt, nil // an image type the sniffer doesn't know
	}
	return "", fmt.Errorf("the camera sent %s, not an image", clean(sniffed, 60))
}

// challenge is one WWW-Authenticate challenge.
type challenge struct {
	scheme string            // lower case: "digest", "basic"
	params map[string]string // keys in lower case
}

// Limits on what parseChallenges reads from a camera.
const (
	maxChallengeLen = 4096
	maxChallenges   = 8
	maxParams       = 16
)

// parseChallenges parses WWW-Authenticate values (RFC 7235): each holds
// one or more challenges, a scheme followed by comma-separated
// name=value or name="quoted value" parameters.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		if len(v) > maxChallengeLen {
			v = v[:maxChallengeLen]
		}
		p := &lexer{s: v}
		var cur *challenge
		for !p.done() && len(out) <= maxChallenges {
			p.skip(" \t,")
			tok := p.token()
			if tok == "" {
				p.pos++ // a stray character: step over it
				continue
			}
			p.skip(" \t")
			if p.peek() == '=' { // a parameter of the current challenge
				p.pos++
				p.skip(" \t")
				var val string
				if p.peek() == '"' {
					val = p.quoted()
				} else {
					val = p.token()
				}
				if p.peek() == '=' { // token68 ("abc=="): not a parameter
					p.skip("=")
					continue
				}
				if cur != nil && len(cur.params) < maxParams {
					cur.params[strings.ToLower(tok)] = val
				}
				continue
			}
			out = append(out, challenge{scheme: strings.ToLower(tok), params: map[string]string{}})
			cur = &out[len(out)-1]
		}
	}
	if len(out) > maxChallenges {
		out = out[:maxChallenges]
	}
	return out
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) done() bool { return l.pos >= len(l.s) }

func (l *lexer) peek() byte {
	if l.done() {
		return 0
	}
	return l.s[l.pos]
}

func (l *lexer) skip(set string) {
	for !l.done() && strings.IndexByte(set, l.s[l.pos]) >= 0 {
		l.pos++
	}
}

// token reads an RFC 7230 token.
func (l *lexer) token() string {
	start := l.pos
	for !l.done() {
		c := l.s[l.pos]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			break
		}
		l.pos++
	}
	return l.s[start:l.pos]
}

// quoted reads a quoted-string, undoing backslash escapes; an unclosed
// one ends at the end of the value.
func (l *lexer) quoted() string {
	l.pos++ // the opening quote
	var b strings.Builder
	for !l.done() {
		c := l.s[l.pos]
		l.pos++
		switch {
		case c == '"':
			return b.String()
		case c == '\\' && !l.done():
			b.WriteByte(l.s[l.pos])
			l.pos++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// authorization answers the strongest challenge we support: Digest
// (MD5 or SHA-256, qop=auth or none) before Basic.
func authorization(chs []challenge, method, uri, user, password string) (string, error) {
	var basic bool
	var firstErr error
	for _, ch := range chs {
		switch ch.scheme {
		case "digest":
			h, err := digestResponse(ch.params, method, uri, user, password, "")
			if err == nil {
				return h, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		case "basic":
			basic = true
		}
	}
	if basic {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)), nil
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", errors.New("the camera asks for an authentication scheme we don't support")
}

// digestResponse computes an RFC 7616 Authorization header. cnonce is
// random when empty (tests pass one to get a fixed answer).
func digestResponse(p map[string]string, method, uri, user, password, cnonce string) (string, error) {
	realm, nonce := p["realm"], p["nonce"]
	if nonce == "" {
		return "", errors.New("the camera's digest challenge has no nonce")
	}
	algo := p["algorithm"]
	var newHash func() hash.Hash
	sess := false
	switch strings.ToUpper(algo) {
	case "", "MD5":
		newHash = md5.New
	case "MD5-SESS":
		newHash, sess = md5.New, true
	case "SHA-256":
		newHash = sha256.New
	case "SHA-256-SESS":
		newHash, sess = sha256.New, true
	default:
		return "", fmt.Errorf("the camera asks for digest algorithm %q, which we don't support", clean(algo, 20))
	}
	qop := ""
	if q, ok := p["qop"]; ok {
		for _, o := range strings.Split(q, ",") {
			if strings.EqualFold(strings.TrimSpace(o), "auth") {
				qop = "auth"
			}
		}
		if qop == "" {
			return "", fmt.Errorf("the camera asks for digest qop %q, which we don't support", clean(q, 20))
		}
	}
	if cnonce == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		cnonce = hex.EncodeToString(b[:])
	}
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	ha1 := h(user + ":" + realm + ":" + password)
	if sess {
		ha1 = h(ha1 + ":" + nonce + ":" + cnonce)
	}
	ha2 := h(method + ":" + uri)
	const nc = "00000001" // each challenge is answered once
	var resp string
	if qop != "" {
		resp = h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		resp = h(ha1 + ":" + nonce + ":" + ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s, response="%s"`, quote(user), quote(realm), quote(nonce), quote(uri), resp)
	if algo != "" {
		fmt.Fprintf(&b, ", algorithm=%s", algo)
	}
	if qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%s, cnonce="%s"`, qop, nc, cnonce)
	}
	if o, ok := p["opaque"]; ok {
		fmt.Fprintf(&b, ", opaque=%s", quote(o))
	}
	return b.String(), nil
}

// quote writes a quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
