package onviftest

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// digestRealm is the realm the camera's web server names, in the style
// of real cameras.
const digestRealm = "IP Camera(OT2146)"

// nonceLife is how long a digest nonce may be used.
const nonceLife = 2 * time.Minute

// digestNonce is one challenge the camera issued.
type digestNonce struct {
	issued time.Time
	lastNC uint64 // the highest nonce count used, against replay
}

// serveSnapshot serves the JPEG behind the configured auth.
func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls = append(s.calls, "snapshot")
	s.mu.Unlock()
	ok := true
	switch s.cam.SnapshotAuth {
	case "digest":
		ok = s.checkDigest(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", s.challenge())
		}
	case "basic":
		u, p, has := r.BasicAuth()
		ok = has && u == s.cam.User && subtle.ConstantTimeCompare([]byte(p), []byte(s.cam.Password)) == 1
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+digestRealm+`"`)
		}
	}
	if !ok {
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.cam.Snapshot)))
	_, _ = w.Write(s.cam.Snapshot)
}

// challenge issues a fresh nonce: one per challenge, valid for
// nonceLife.
func (s *Server) challenge() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	now := time.Now()
	s.mu.Lock()
	for n, d := range s.digests {
		if now.Sub(d.issued) > nonceLife {
			delete(s.digests, n)
		}
	}
	s.digests[nonce] = &digestNonce{issued: now}
	s.mu.Unlock()
	opaque := base64.StdEncoding.EncodeToString([]byte("onviftest"))
	return `Digest qop="auth", realm="` + digestRealm + `", nonce="` + nonce + `", stale="FALSE", opaque="` + opaque + `", algorithm="MD5"`
}

// checkDigest verifies an RFC 7616 MD5 qop=auth answer to one of our
// nonces.
func (s *Server) checkDigest(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(strings.ToLower(h), "digest ") {
		return false
	}
	p := digestParams(h[len("digest "):])
	if p["username"] != s.cam.User || p["realm"] != digestRealm || p["uri"] != r.URL.RequestURI() ||
		p["qop"] != "auth" || p["cnonce"] == "" || (p["algorithm"] != "" && !strings.EqualFold(p["algorithm"], "MD5")) {
		return false
	}
	nc, err := strconv.ParseUint(p["nc"], 16, 64)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.digests[p["nonce"]]
	if d == nil || time.Since(d.issued) > nonceLife || nc <= d.lastNC {
		return false
	}
	md := func(x string) string {
		sum := md5.Sum([]byte(x))
		return hex.EncodeToString(sum[:])
	}
	ha1 := md(s.cam.User + ":" + digestRealm + ":" + s.cam.Password)
	ha2 := md(r.Method + ":" + p["uri"])
	want := md(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	if subtle.ConstantTimeCompare([]byte(want), []byte(p["response"])) != 1 {
		return false
	}
	d.lastNC = nc
	return true
}

// digestParams splits `a="x, y", b=z` into its parameters.
func digestParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(s, " ,") {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimSpace(s[eq+1:])
		var val string
		if strings.HasPrefix(s, `"`) {
			end := 1
			var b strings.Builder
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' && end+1 < len(s) {
					end++
				}
				b.WriteByte(s[end])
				end++
			}
			val, s = b.String(), s[min(end+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		out[key] = val
	}
	return out
}
