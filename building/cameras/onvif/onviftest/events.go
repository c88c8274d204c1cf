package onviftest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// subscription is one pull point.
type subscription struct {
	expires time.Time // on the camera's clock
	queue   []Event
	wake    chan struct{} // has a value when queue may have grown
}

// Publish queues an event on every subscription, waking pulls that wait.
func (s *Server) Publish(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		sub.queue = append(sub.queue, e)
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// Subscriptions returns how many pull points are open.
func (s *Server) Subscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

func (s *Server) createPullPoint(w http.ResponseWriter, _ *http.Request, req *request) {
	d := parseDuration(req.Body.Op.InitialTerminationTime, time.Minute)
	now := s.Now()
	s.mu.Lock()
	s.nextSub++
	id := strconv.Itoa(s.nextSub)
	s.subs[id] = &subscription{expires: now.Add(d), queue: append([]Event(nil), s.cam.Events...), wake: make(chan struct{}, 1)}
	s.mu.Unlock()
	ref := `<wsa:Address>` + s.xaddr("/onvif/subscription/"+id) + `</wsa:Address>`
	if s.cam.RefParams {
		ref = `<wsa:Address>` + s.xaddr("/onvif/Events/SubManager") + `</wsa:Address>` +
			`<wsa:ReferenceParameters><dom0:SubscriptionId>` + id + `</dom0:SubscriptionId></wsa:ReferenceParameters>`
	}
	s.reply(w, http.StatusOK, `<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>`+ref+`</tev:SubscriptionReference>`+
		`<wsnt:CurrentTime>`+xsTime(now)+`</wsnt:CurrentTime><wsnt:TerminationTime>`+xsTime(now.Add(d))+`</wsnt:TerminationTime>`+
		`</tev:CreatePullPointSubscriptionResponse>`)
}

// subscriptionID is the subscription a request is for: its path, or
// its reference parameter.
func (s *Server) subscriptionID(r *http.Request, req *request) string {
	if s.cam.RefParams {
		return strings.TrimSpace(req.Header.SubscriptionID)
	}
	return r.PathValue("id")
}

// live returns a subscription that exists and has not expired; the
// caller holds s.mu.
func (s *Server) live(id string) *subscription {
	sub := s.subs[id]
	if sub == nil {
		return nil
	}
	if s.Now().After(sub.expires) {
		delete(s.subs, id)
		return nil
	}
	return sub
}

func (s *Server) noSubscription(w http.ResponseWriter) {
	s.fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal/ter:ResourceUnknown", errNoSub.Error())
}

// pullMessages answers at once when events are queued, and otherwise
// holds the request until one is published or the timeout passes.
func (s *Server) pullMessages(w http.ResponseWriter, r *http.Request, req *request) {
	id := s.subscriptionID(r, req)
	limit := req.Body.Op.MessageLimit
	if limit <= 0 {
		limit = 1
	}
	timeout := min(parseDuration(req.Body.Op.Timeout, 10*time.Second), time.Minute)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		sub := s.live(id)
		if sub == nil {
			s.mu.Unlock()
			s.noSubscription(w)
			return
		}
		var evs []Event
		if len(sub.queue) > 0 {
			n := min(limit, len(sub.queue))
			evs, sub.queue = sub.queue[:n], sub.queue[n:]
		}
		expires, wake := sub.expires, sub.wake
		s.mu.Unlock()
		if len(evs) > 0 {
			s.replyMessages(w, evs, expires)
			return
		}
		select {
		case <-wake:
		case <-timer.C:
			s.replyMessages(w, nil, expires)
			return
		case <-r.Context().Done():
			return
		case <-s.done:
			s.replyMessages(w, nil, expires)
			return
		}
	}
}

func (s *Server) replyMessages(w http.ResponseWriter, evs []Event, expires time.Time) {
	now := s.Now()
	var b strings.Builder
	b.WriteString(`<tev:PullMessagesResponse><tev:CurrentTime>` + xsTime(now) + `</tev:CurrentTime>` +
		`<tev:TerminationTime>` + xsTime(expires) + `</tev:TerminationTime>`)
	for _, e := range evs {
		t := e.Time
		if t.IsZero() {
			t = now
		}
		op := e.Operation
		if op == "" {
			op = "Changed"
		}
		fmt.Fprintf(&b, `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">%s</wsnt:Topic>`+
			`<wsnt:Message><tt:Message UtcTime="%s" PropertyOperation="%s"><tt:Source>%s</tt:Source><tt:Data>%s</tt:Data></tt:Message></wsnt:Message>`+
			`</wsnt:NotificationMessage>`, esc(e.Topic), xsTime(t), esc(op), items(e.Source), items(e.Data))
	}
	b.WriteString(`</tev:PullMessagesResponse>`)
	s.reply(w, http.StatusOK, b.String())
}

func items(its []Item) string {
	var b strings.Builder
	for _, it := range its {
		b.WriteString(`<tt:SimpleItem Name="` + esc(it.Name) + `" Value="` + esc(it.Value) + `"/>`)
	}
	return b.String()
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, req *request) {
	id := s.subscriptionID(r, req)
	d := parseDuration(req.Body.Op.TerminationTime, time.Minute)
	now := s.Now()
	s.mu.Lock()
	sub := s.live(id)
	if sub != nil {
		sub.expires = now.Add(d)
	}
	s.mu.Unlock()
	if sub == nil {
		s.noSubscription(w)
		return
	}
	s.reply(w, http.StatusOK, `<wsnt:RenewResponse><wsnt:TerminationTime>`+xsTime(now.Add(d))+`</wsnt:TerminationTime>`+
		`<wsnt:CurrentTime>`+xsTime(now)+`</wsnt:CurrentTime></wsnt:RenewResponse>`)
}

func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request, req *request) {
	id := s.subscriptionID(r, req)
	s.mu.Lock()
	sub := s.live(id)
	delete(s.subs, id)
	s.mu.Unlock()
	if sub == nil {
		s.noSubscription(w)
		return
	}
	s.reply(w, http.StatusOK, `<wsnt:UnsubscribeResponse></wsnt:UnsubscribeResponse>`)
}
