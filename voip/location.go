package voip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is one registered contact of an extension: a desk phone, a
// softphone, or the same phone after a reboot.
type Binding struct {
	Contact   string    `json:"contact"`
	Transport string    `json:"transport"` // udp, tcp, tls
	Source    string    `json:"source"`    // ip:port the REGISTER came from
	UserAgent string    `json:"user_agent"`
	Expires   time.Time `json:"expires"`
	LastSeen  time.Time `json:"last_seen"`
	Reachable bool      `json:"reachable"` // answers OPTIONS qualify
}

// Phone is an extension with its live registration state.
type Phone struct {
	Extension Extension `json:"extension"`
	Online    bool      `json:"online"` // at least one reachable binding
	Bindings  []Binding `json:"bindings"`
}

// binding is a Binding as the location service keeps it.
type binding struct {
	Binding
	contact *sip.ContactHeader // as registered, for the 200 OK and for requests
	callID  string
	cseq    uint32

	misses      int       // OPTIONS in a row without an answer
	nextQualify time.Time // when the next OPTIONS is due
	qualifying  bool      // an OPTIONS is outstanding
}

// Phones returns every extension with its live registration state, by
// number.
func (s *Service) Phones() []Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Phone, 0, len(s.exts))
	for _, n := range sortedNumbers(s.exts) {
		out = append(out, s.phoneLocked(n))
	}
	return out
}

// phoneLocked returns the state of extension n.
func (s *Service) phoneLocked(n string) Phone {
	p := Phone{Bindings: []Binding{}}
	if rec := s.exts[n]; rec != nil {
		p.Extension = rec.Extension
	}
	for _, b := range s.aors[n] {
		p.Bindings = append(p.Bindings, b.Binding)
		p.Online = p.Online || b.Reachable
	}
	return p
}

// notifyLocked announces extension n's state after a change: online or
// offline when that flipped, otherwise changed if changed is true.
func (s *Service) notifyLocked(n string, changed bool) {
	if s.exts[n] == nil {
		return
	}
	p := s.phoneLocked(n)
	was := s.online[n]
	s.online[n] = p.Online
	switch {
	case p.Online && !was:
		s.publishLocked(KindPhoneOnline, p)
	case !p.Online && was:
		s.publishLocked(KindPhoneOffline, p)
	case changed:
		s.publishLocked(KindPhoneChanged, p)
	}
}

// publishLocked publishes under s.mu, so events about one phone reach
// the bus in the order its state changed. Publish never blocks.
func (s *Service) publishLocked(kind string, p Phone) {
	if s.bus != nil {
		s.bus.Publish(PhoneEvent{Kind: kind, Phone: p})
	}
}

// tick is how often the maintenance loop looks for expired bindings and
// due OPTIONS.
func (s *Service) tick() time.Duration {
	return min(max(s.cfg.QualifyInterval/4, 20*time.Millisecond), time.Second)
}

// maintain expires bindings and starts OPTIONS qualifies until stop.
func (s *Service) maintain() {
	t := time.NewTicker(s.tick())
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.expire(now)
			s.flood.tidy(now)
			s.qualifyDue(now)
		}
	}
}

// expire drops the bindings whose registration ran out.
func (s *Service) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, list := range s.aors {
		kept := list[:0]
		for _, b := range list {
			if now.Before(b.Expires) {
				kept = append(kept, b)
			}
		}
		if len(kept) == len(list) {
			continue
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(s.aors, n)
		} else {
			s.aors[n] = kept
		}
		s.log.Debug("sip binding expired", "extension", n, "left", len(kept))
		s.notifyLocked(n, true)
	}
}

// qualifyDue starts an OPTIONS for every binding that is due one, at most
// cap(qualifySem) at a time; the rest wait for a later tick.
func (s *Service) qualifyDue(now time.Time) {
	type job struct {
		number string
		b      *binding
	}
	var jobs []job
	s.mu.Lock()
	for n, list := range s.aors {
		for _, b := range list {
			if b.qualifying || now.Before(b.nextQualify) {
				continue
			}
			select {
			case s.qualifySem <- struct{}{}:
			default:
				continue
			}
			b.qualifying = true
			b.nextQualify = now.Add(s.cfg.QualifyInterval)
			jobs = append(jobs, job{n, b})
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.qualifySem }()
			ok, gone := s.qualify(j.number, j.b)
			s.qualified(j.number, j.b, ok, gone)
		}()
	}
}

// qualified records the outcome of an OPTIONS to b: ok when the phone
// answered; gone when its TCP/TLS connection is closed, so it cannot be
// reached until it registers again.
func (s *Service) qualified(n string, b *binding, ok, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.qualifying = false
	if ok {
		s.qualifyAnswered.Add(1)
	}
	if !s.holds(n, b) {
		return
	}
	was := b.Reachable
	switch {
	case ok:
		b.misses = 0
		b.Reachable = true
		b.LastSeen = time.Now()
	case gone:
		b.misses = s.cfg.QualifyMisses
		b.Reachable = false
	default:
		b.misses++
		if b.misses >= s.cfg.QualifyMisses {
			b.Reachable = false
		}
	}
	if b.Reachable != was {
		s.log.Info("sip binding reachability changed", "extension", n, "contact", b.Contact, "reachable", b.Reachable)
		s.notifyLocked(n, true)
	}
}

// holds reports whether b is still one of n's bindings.
func (s *Service) holds(n string, b *binding) bool {
	for _, x := range s.aors[n] {
		if x == b {
			return true
		}
	}
	return false
}
