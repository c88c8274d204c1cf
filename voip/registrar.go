package voip

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/emiago/sipgo/sip"

	"civic/internal/audit"
)

// handleRegister is the registrar (RFC 3261 section 10.3): authenticate
// the extension named in To, then add, refresh or remove its bindings and
// answer with every binding it now has.
func (s *Service) handleRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !wellFormed(req) {
		s.badRequest(req, tx, "missing a required header")
		return
	}
	aor := req.To().Address.User
	ip := hostOf(req.Source())
	if _, ok := s.authenticate(req, tx, aor, ip); !ok {
		return
	}
	upd, err := s.parseRegister(req)
	if err != nil {
		s.badRequest(req, tx, err.Error())
		return
	}
	if upd.tooBrief {
		s.respond(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", itoa(int(s.cfg.MinExpires/time.Second))))
		return
	}
	now := time.Now()
	contacts := s.applyRegister(aor, upd, now)
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, c := range contacts {
		res.AppendHeader(c)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond failed", "code", 200, "err", err)
	}
}

// registerUpdate is what a REGISTER asks for.
type registerUpdate struct {
	removeAll bool // Contact: * with Expires: 0
	contacts  []contactUpdate
	tooBrief  bool // some contact asked for less than MinExpires
	callID    string
	cseq      uint32
	transport string
	source    string
	userAgent string
}

type contactUpdate struct {
	contact *sip.ContactHeader
	expires time.Duration // 0 removes the binding
}

// maxUserAgent bounds the User-Agent kept per binding.
const maxUserAgent = 128

// parseRegister reads the contacts of a REGISTER and how long each should
// last: its expires parameter, else the Expires header, else the maximum;
// then clamped to MaxExpires.
func (s *Service) parseRegister(req *sip.Request) (registerUpdate, error) {
	u := registerUpdate{
		callID:    req.CallID().Value(),
		cseq:      req.CSeq().SeqNo,
		transport: strings.ToLower(req.Transport()),
		source:    req.Source(),
	}
	if h := req.GetHeader("User-Agent"); h != nil {
		u.userAgent = printable(h.Value(), maxUserAgent)
	}
	headerExpires, hasHeader := time.Duration(0), false
	if h := req.GetHeader("Expires"); h != nil {
		d, err := parseExpires(h.Value())
		if err != nil {
			return u, fmt.Errorf("bad Expires header: %w", err)
		}
		headerExpires, hasHeader = d, true
	}
	hdrs := req.GetHeaders("Contact")
	for _, h := range hdrs {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return u, fmt.Errorf("unparsed Contact header")
		}
		if c.Address.Wildcard {
			if len(hdrs) != 1 || !hasHeader || headerExpires != 0 {
				return u, fmt.Errorf("Contact: * needs Expires: 0 and no other contact")
			}
			u.removeAll = true
			return u, nil
		}
		if scheme := strings.ToLower(c.Address.Scheme); scheme != "sip" && scheme != "sips" || c.Address.Host == "" {
			return u, fmt.Errorf("contact %q is not a sip: URI", c.Address.String())
		}
		exp := s.cfg.MaxExpires
		if hasHeader {
			exp = headerExpires
		}
		if v, ok := c.Params.Get("expires"); ok {
			d, err := parseExpires(v)
			if err != nil {
				return u, fmt.Errorf("bad expires parameter: %w", err)
			}
			exp = d
		}
		switch {
		case exp == 0:
		case exp < s.cfg.MinExpires:
			u.tooBrief = true
		case exp > s.cfg.MaxExpires:
			exp = s.cfg.MaxExpires
		}
		u.contacts = append(u.contacts, contactUpdate{contact: c.Clone(), expires: exp})
	}
	return u, nil
}

// parseExpires parses delta-seconds (RFC 3261 section 25.1); values above
// 2^32-1 are cut to that, as the RFC asks.
func parseExpires(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 20 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number of seconds", v)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return time.Duration(n) * time.Second, nil
}

// applyRegister changes aor's bindings as u asks and returns the Contact
// headers of every binding it now has, each with its remaining expires.
func (s *Service) applyRegister(aor string, u registerUpdate, now time.Time) []*sip.ContactHeader {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.aors[aor]
	changed := false
	if u.removeAll {
		changed = len(list) > 0
		list = nil
	}
	for _, cu := range u.contacts {
		key := cu.contact.Address.String()
		i := indexBinding(list, key)
		if i >= 0 && list[i].callID == u.callID && u.cseq <= list[i].cseq {
			continue // an older REGISTER arriving late (RFC 3261 10.3 step 7)
		}
		if cu.expires == 0 {
			if i >= 0 {
				list = append(list[:i], list[i+1:]...)
				changed = true
			}
			continue
		}
		if i < 0 {
			if len(list) >= s.cfg.MaxBindings {
				list = dropStalest(list)
			}
			list = append(list, &binding{nextQualify: now.Add(s.cfg.QualifyInterval)})
			i = len(list) - 1
			changed = true
			s.log.Info("sip registered", "extension", aor, "contact", key, "transport", u.transport, "source", u.source, "user_agent", u.userAgent)
		}
		b := list[i]
		if b.Source != u.source || b.Transport != u.transport || b.UserAgent != u.userAgent || !b.Reachable {
			changed = true
			b.nextQualify = now.Add(s.cfg.QualifyInterval)
		}
		b.Contact, b.contact = key, cu.contact
		b.Transport, b.Source, b.UserAgent = u.transport, u.source, u.userAgent
		b.Expires, b.LastSeen = now.Add(cu.expires), now
		b.Reachable, b.misses = true, 0 // it just reached us from there
		b.callID, b.cseq = u.callID, u.cseq
	}
	if len(list) == 0 {
		delete(s.aors, aor)
	} else {
		s.aors[aor] = list
	}
	s.notifyLocked(aor, changed)

	out := make([]*sip.ContactHeader, 0, len(list))
	for _, b := range list {
		c := b.contact.Clone()
		c.Params = c.Params.Clone()
		if c.Params == nil {
			c.Params = sip.NewParams()
		}
		c.Params.Remove("expires")
		left := max(int((b.Expires.Sub(now)+time.Second-1)/time.Second), 1)
		c.Params.Add("expires", itoa(left))
		out = append(out, c)
	}
	return out
}

func indexBinding(list []*binding, contact string) int {
	for i, b := range list {
		if b.Contact == contact {
			return i
		}
	}
	return -1
}

// dropStalest removes the binding seen least recently.
func dropStalest(list []*binding) []*binding {
	oldest := 0
	for i, b := range list {
		if b.LastSeen.Before(list[oldest].LastSeen) {
			oldest = i
		}
	}
	return append(list[:oldest], list[oldest+1:]...)
}

// authenticate checks the request's digest credentials for extension aor
// and answers it (401, 403) when they are missing or wrong. A wrong
// password and an unknown extension get the same answer after the same
// work: an unknown extension is checked against a stand-in HA1.
func (s *Service) authenticate(req *sip.Request, tx sip.ServerTransaction, aor, ip string) (*extRecord, bool) {
	var cred credentials
	found := false
	for _, h := range req.GetHeaders("Authorization") {
		c, err := parseCredentials(h.Value())
		if err != nil {
			s.badRequest(req, tx, "malformed Authorization header")
			return nil, false
		}
		if c.Realm == s.cfg.Domain {
			cred, found = c, true
			break
		}
	}
	if !found {
		s.challenge(req, tx, false)
		return nil, false
	}
	alg := cred.algorithm()
	if !slices.Contains(s.cfg.DigestAlgorithms, alg) || !cred.wellFormed() {
		s.challenge(req, tx, false)
		return nil, false
	}
	now := time.Now()
	user := printable(cred.Username, 32)
	if _, blocked := s.byExt.locked(user, now); blocked && !s.hasBindingFrom(user, ip) {
		s.respond(tx, req, 403, "Forbidden")
		return nil, false
	}
	issued, valid, stale := s.nonces.check(cred.Nonce)

	s.mu.Lock()
	rec := s.exts[cred.Username]
	s.mu.Unlock()
	ha1 := s.dummyHA1(alg, cred.Username)
	if rec != nil && rec.realm == s.cfg.Domain {
		ha1 = rec.ha1(alg)
	}
	want := cred.expectedResponse(alg, ha1, string(req.Method))
	match := subtle.ConstantTimeCompare([]byte(want), []byte(cred.Response)) == 1

	switch {
	case !valid:
		// Not a nonce of ours (or from before a restart): no guess was
		// made against a real challenge, so ask again.
		s.challenge(req, tx, false)
		return nil, false
	case !match || rec == nil || rec.realm != s.cfg.Domain || cred.Username != aor:
		s.log.Info("sip authentication failed", "extension", user, "to", printable(aor, 32), "source", ip, "known", rec != nil)
		s.authFailed(ip, user, now)
		s.respond(tx, req, 403, "Forbidden")
		return nil, false
	case stale:
		s.challenge(req, tx, true)
		return nil, false
	}
	if cred.QOP != "" {
		nc, _ := cred.nonceCount()
		if !s.ncs.use(cred.Nonce, issued, nc, now) {
			s.log.Info("sip nonce count reused", "extension", user, "source", ip)
			s.challenge(req, tx, true)
			return nil, false
		}
	}
	s.byExt.reset(user)
	return rec, true
}

// challenge answers 401 with a fresh nonce, one WWW-Authenticate per
// offered algorithm in order of preference.
func (s *Service) challenge(req *sip.Request, tx sip.ServerTransaction, stale bool) {
	nonce := s.nonces.issue()
	hdrs := make([]sip.Header, 0, len(s.cfg.DigestAlgorithms))
	for _, alg := range s.cfg.DigestAlgorithms {
		hdrs = append(hdrs, sip.NewHeader("WWW-Authenticate", challenge(s.cfg.Domain, nonce, alg, stale)))
	}
	s.respond(tx, req, 401, "Unauthorized", hdrs...)
}

// dummyHA1 is the stand-in HA1 of an extension that does not exist:
// derived from a per-process key, so it costs what a real lookup costs and
// matches no password.
func (s *Service) dummyHA1(alg, user string) string {
	m := hmac.New(sha256.New, s.dummyKey[:])
	m.Write([]byte(alg + ":" + user))
	sum := hex.EncodeToString(m.Sum(nil))
	if alg == algMD5 {
		return sum[:32]
	}
	return sum
}

// hasBindingFrom reports whether extension n has a live binding from ip:
// a phone that already proved itself there is not locked out by someone
// guessing its password from elsewhere.
func (s *Service) hasBindingFrom(n, ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, b := range s.aors[n] {
		if hostOf(b.Source) == ip && now.Before(b.Expires) {
			return true
		}
	}
	return false
}

// authFailed counts a failed authentication against the source address
// and the extension, and blocks either once it reaches its limit.
func (s *Service) authFailed(ip, user string, now time.Time) {
	if until, blocked := s.bySource.fail(ip, s.cfg.MaxFailuresPerSource, now); blocked {
		s.block("source", "voip.block_source", ip, ip, s.cfg.MaxFailuresPerSource, until)
	}
	if until, blocked := s.byExt.fail(user, s.cfg.MaxFailuresPerExtension, now); blocked {
		s.block("extension", "voip.block_extension", user, ip, s.cfg.MaxFailuresPerExtension, until)
	}
}

// block logs one line and writes one audit row for a new block.
func (s *Service) block(what, action, target, ip string, failures int, until time.Time) {
	s.log.Warn("sip "+what+" blocked after failed authentications", what, target, "source", ip, "failures", failures, "until", until.UTC().Format(time.RFC3339))
	if s.audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.audit.Append(ctx, audit.Entry{
		User:   "civicd",
		Role:   "system",
		Action: action,
		Target: target,
		Result: audit.ResultDenied,
		Detail: fmt.Sprintf("%d failed SIP authentications within %s; blocked until %s", failures, s.cfg.BlockFor, until.UTC().Format(time.RFC3339)),
		Source: ip,
	})
	if err != nil {
		s.log.Error("audit sip block", "err", err)
	}
}

// printable returns s cut to max bytes with control characters replaced,
// fit for logs and the audit log.
func printable(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}
