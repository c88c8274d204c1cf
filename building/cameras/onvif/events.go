package onvif

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event kinds, from the topic (see classify).
const (
	KindMotion = "motion"
	KindTamper = "tamper"
	KindOther  = "other"
)

// Event is one notification pulled from a camera.
type Event struct {
	// Topic is the topic without namespace prefixes:
	// "RuleEngine/CellMotionDetector/Motion".
	Topic string
	// Time is when the camera says it happened, moved onto our clock by
	// the measured offset so that events from cameras with wrong clocks
	// line up.
	Time time.Time
	// Operation is the property operation: Initialized (the state when
	// the subscription began), Changed or Deleted.
	Operation string
	Source    map[string]string // which video source, rule, ...
	Data      map[string]string // the state: IsMotion=true, ...
	Kind      string            // KindMotion, KindTamper or KindOther
	Active    bool              // the alarm is on (motion seen, tampering)
}

// PullPoint is a pull-point subscription on a camera's event service.
// Its methods are safe for concurrent use, though a camera serves one
// PullMessages at a time per subscription.
type PullPoint struct {
	c       *Client
	addr    string // where we send requests (rebased)
	to      string // the address as the camera gave it, for wsa:To
	refHdr  string // the subscription's reference parameters, as headers
	mu      sync.Mutex
	expires time.Time // on our clock
}

// CreatePullPoint subscribes to all of the camera's events. The camera
// ends the subscription after termination unless it is renewed.
func (c *Client) CreatePullPoint(ctx context.Context, termination time.Duration) (*PullPoint, error) {
	s, err := c.cachedServices(ctx)
	if err != nil {
		return nil, err
	}
	if s.Events == "" {
		return nil, errors.New("onvif CreatePullPointSubscription: the camera has no event service")
	}
	r := request{
		op:     "CreatePullPointSubscription",
		action: nsEvents + "/EventPortType/CreatePullPointSubscriptionRequest",
		body: `<tev:CreatePullPointSubscription xmlns:tev="` + nsEvents + `">` +
			`<tev:InitialTerminationTime>` + xsDuration(termination) + `</tev:InitialTerminationTime>` +
			`</tev:CreatePullPointSubscription>`,
	}
	var resp struct {
		SubscriptionReference struct {
			Address             string `xml:"Address"`
			ReferenceParameters struct {
				Params []refParam `xml:",any"`
			} `xml:"ReferenceParameters"`
		} `xml:"SubscriptionReference"`
		CurrentTime     string `xml:"CurrentTime"`
		TerminationTime string `xml:"TerminationTime"`
	}
	if err := c.call(ctx, s.Events, r, "CreatePullPointSubscriptionResponse", &resp); err != nil {
		return nil, err
	}
	ref := resp.SubscriptionReference
	p := &PullPoint{c: c, addr: c.rebase(ref.Address), to: strings.TrimSpace(ref.Address)}
	if p.addr == "" {
		return nil, fmt.Errorf("onvif CreatePullPointSubscription: the camera returned an unusable subscription address %q", clean(ref.Address, 120))
	}
	p.refHdr = refHeaders(ref.ReferenceParameters.Params)
	p.setExpiry(resp.CurrentTime, resp.TerminationTime, termination)
	return p, nil
}

// refParam is one WS-Addressing reference parameter. A subscription's
// reference parameters must come back as SOAP headers on every request
// to it (some cameras key subscriptions on them).
type refParam struct {
	Name xml.Name
	Text string
}

// UnmarshalXML keeps the element's name and its text.
func (r *refParam) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	r.Name = start.Name
	var t text
	if err := t.UnmarshalXML(d, start); err != nil {
		return err
	}
	r.Text = string(t)
	return nil
}

// refHeaders writes reference parameters back as header elements, each
// in its own namespace, marked as WS-Addressing 1.0 asks.
func refHeaders(params []refParam) string {
	var b strings.Builder
	for i, p := range params {
		if i == 8 { // real cameras use one
			break
		}
		name := p.Name.Local
		if !xmlName(name) {
			continue
		}
		ns := ` xmlns=""`
		if p.Name.Space != "" {
			ns = ` xmlns="` + esc(p.Name.Space) + `"`
		}
		b.WriteString(`<` + name + ns + ` xmlns:wsa="` + nsWSA + `" wsa:IsReferenceParameter="true">` + esc(p.Text) + `</` + name + `>`)
	}
	return b.String()
}

// xmlName reports whether s is safe to write as an element name.
func xmlName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// Address returns the subscription's address (rebased onto the camera's
// host).
func (p *PullPoint) Address() string { return p.addr }

// Expires returns when the camera will end the subscription unless it is
// renewed, on our clock.
func (p *PullPoint) Expires() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expires
}

// setExpiry works out the expiry on our clock: the camera's termination
// time less its current time, both on its clock, is what is left.
func (p *PullPoint) setExpiry(current, termination string, asked time.Duration) {
	now := time.Now()
	exp := now.Add(asked)
	cur, err1 := parseTime(current)
	term, err2 := parseTime(termination)
	if err1 == nil && err2 == nil && term.After(cur) && term.Sub(cur) < 24*time.Hour {
		exp = now.Add(term.Sub(cur))
	}
	p.mu.Lock()
	p.expires = exp
	p.mu.Unlock()
}

// header is the WS-Addressing header for a request to the subscription.
func (p *PullPoint) header(action string) string {
	return `<wsa:Action xmlns:wsa="` + nsWSA + `">` + action + `</wsa:Action>` +
		`<wsa:MessageID xmlns:wsa="` + nsWSA + `">urn:uuid:` + newUUID() + `</wsa:MessageID>` +
		`<wsa:To xmlns:wsa="` + nsWSA + `">` + esc(p.to) + `</wsa:To>` + p.refHdr
}

// Pull waits up to timeout for events and returns at most limit of them
// (limit ≤ 0: 100). No events within timeout is not an error.
func (p *PullPoint) Pull(ctx context.Context, timeout time.Duration, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	action := nsEvents + "/PullPointSubscription/PullMessagesRequest"
	r := request{
		op:     "PullMessages",
		action: action,
		header: p.header(action),
		body: `<tev:PullMessages xmlns:tev="` + nsEvents + `"><tev:Timeout>` + xsDuration(timeout) + `</tev:Timeout>` +
			`<tev:MessageLimit>` + strconv.Itoa(limit) + `</tev:MessageLimit></tev:PullMessages>`,
		wait: timeout,
	}
	var resp xmlPullMessages
	if err := p.c.call(ctx, p.addr, r, "PullMessagesResponse", &resp); err != nil {
		return nil, err
	}
	p.setExpiry(resp.CurrentTime, resp.TerminationTime, time.Until(p.Expires()))
	return resp.events(p.c.clockOffset(), limit), nil
}

// Renew extends the subscription by termination from now.
func (p *PullPoint) Renew(ctx context.Context, termination time.Duration) error {
	action := "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest"
	r := request{
		op:     "Renew",
		action: action,
		header: p.header(action),
		body:   `<wsnt:Renew xmlns:wsnt="` + nsWSNT + `"><wsnt:TerminationTime>` + xsDuration(termination) + `</wsnt:TerminationTime></wsnt:Renew>`,
	}
	var resp struct {
		TerminationTime string `xml:"TerminationTime"`
		CurrentTime     string `xml:"CurrentTime"`
	}
	if err := p.c.call(ctx, p.addr, r, "RenewResponse", &resp); err != nil {
		return err
	}
	p.setExpiry(resp.CurrentTime, resp.TerminationTime, termination)
	return nil
}

// Unsubscribe ends the subscription, freeing the camera's pull point
// (cameras have few: often 2 to 10).
func (p *PullPoint) Unsubscribe(ctx context.Context) error {
	action := "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest"
	r := request{
		op:     "Unsubscribe",
		action: action,
		header: p.header(action),
		body:   `<wsnt:Unsubscribe xmlns:wsnt="` + nsWSNT + `"/>`,
	}
	return p.c.call(ctx, p.addr, r, "UnsubscribeResponse", nil)
}

// xmlPullMessages is tev:PullMessagesResponse.
type xmlPullMessages struct {
	CurrentTime         string `xml:"CurrentTime"`
	TerminationTime     string `xml:"TerminationTime"`
	NotificationMessage []struct {
		Topic   string `xml:"Topic"`
		Message struct {
			Message struct {
				UtcTime           string   `xml:"UtcTime,attr"`
				PropertyOperation string   `xml:"PropertyOperation,attr"`
				Source            xmlItems `xml:"Source"`
				Key               xmlItems `xml:"Key"`
				Data              xmlItems `xml:"Data"`
			} `xml:"Message"`
		} `xml:"Message"`
	} `xml:"NotificationMessage"`
}

type xmlItems struct {
	SimpleItem []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:"Value,attr"`
	} `xml:"SimpleItem"`
}

func (x xmlItems) toMap() map[string]string {
	m := make(map[string]string, len(x.SimpleItem))
	for i, it := range x.SimpleItem {
		if i == 32 {
			break
		}
		if n := clean(it.Name, 64); n != "" {
			m[n] = clean(it.Value, 200)
		}
	}
	return m
}

// events converts the notifications; offset is the camera's clock minus
// ours.
func (x *xmlPullMessages) events(offset time.Duration, limit int) []Event {
	var out []Event
	for _, n := range x.NotificationMessage {
		if len(out) == limit {
			break
		}
		m := n.Message.Message
		ev := Event{
			Topic:     topicPath(n.Topic),
			Operation: clean(m.PropertyOperation, 32),
			Source:    m.Source.toMap(),
			Data:      m.Data.toMap(),
		}
		for k, v := range m.Key.toMap() {
			if _, dup := ev.Source[k]; !dup {
				ev.Source[k] = v
			}
		}
		if t, err := parseTime(m.UtcTime); err == nil {
			ev.Time = t.Add(-offset)
		} else {
			ev.Time = time.Now()
		}
		ev.Kind, ev.Active = classify(ev.Topic, ev.Operation, ev.Data)
		out = append(out, ev)
	}
	return out
}

// topicPath strips the prefix of each segment of a concrete topic:
// "tns1:RuleEngine/tnsaxis:CellMotionDetector/Motion" →
// "RuleEngine/CellMotionDetector/Motion".
func topicPath(s string) string {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) > 16 {
		parts = parts[:16]
	}
	for i, p := range parts {
		parts[i] = localName(p)
	}
	return clean(strings.Join(parts, "/"), 256)
}

// tamperTopics are topic segments (lower case) that mean someone is
// interfering with the camera's view; checked before motion, since
// "GlobalSceneChange" is not motion.
var tamperTopics = []string{"tamper", "globalscenechange", "scenechange", "imagetoodark", "imagetoobright", "imagetooblurry", "defocus"}

// activeKeys are the data items, in order of preference, that carry an
// alarm's state: CellMotionDetector's IsMotion, TamperDetector's
// IsTamper, and the State of VideoSource alarms.
var activeKeys = []string{"IsMotion", "IsTamper", "State", "IsActive", "Active", "Value", "LogicalState"}

// classify finds an event's kind from its topic and whether the alarm is
// on from its data.
func classify(topic, op string, data map[string]string) (string, bool) {
	kind := KindOther
	lower := strings.ToLower(topic)
	for _, seg := range strings.Split(lower, "/") {
		for _, t := range tamperTopics {
			if seg == t {
				kind = KindTamper
			}
		}
	}
	if kind == KindOther && strings.Contains(lower, "motion") {
		kind = KindMotion
	}
	if strings.EqualFold(op, "Deleted") {
		return kind, false
	}
	for _, k := range activeKeys {
		if v, ok := data[k]; ok {
			return kind, truthy(v)
		}
	}
	if len(data) == 1 {
		for _, v := range data {
			return kind, truthy(v)
		}
	}
	return kind, false
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "on", "active", "yes":
		return true
	}
	return false
}

// parseTime reads an xs:dateTime; one without a zone is taken as UTC,
// as cameras mean it.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", clean(s, 40))
}

// xsDuration writes d as an xs:duration in whole seconds (at least one),
// the form every camera accepts.
func xsDuration(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return "PT" + strconv.FormatInt(s, 10) + "S"
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
