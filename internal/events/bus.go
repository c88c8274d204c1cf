package events

import (
	"slices"
	"sync"
	"time"
)

// Topic names a stream of related events, for example "users",
// "system", "audit", "building.doors" or "voip.phones".
type Topic string

// Payload is implemented by every event payload struct. The payload type
// itself says which topic it belongs to and what kind of event it is, so
// publishers never pass a topic or kind by hand.
//
// Payloads must be JSON-serialisable structs that carry the full new
// state of what they describe (see the package documentation).
type Payload interface {
	// EventTopic returns the topic the event is published on.
	EventTopic() Topic
	// EventKind returns the event kind, such as "user.created".
	EventKind() string
}

// Event is one published fact as delivered to subscribers.
type Event struct {
	// Seq is the bus-wide sequence number, assigned at publication. It
	// starts at 1 and increases with every Publish; it is never 0.
	Seq uint64 `json:"seq"`
	// At is when the event was published, read from Options.Now.
	At time.Time `json:"at"`
	// Topic is Payload.EventTopic().
	Topic Topic `json:"topic"`
	// Kind is Payload.EventKind().
	Kind string `json:"kind"`
	// Payload is the published value.
	Payload Payload `json:"payload"`
}

// As returns ev's payload as type T, and whether it has that type.
func As[T Payload](ev Event) (T, bool) {
	p, ok := ev.Payload.(T)
	return p, ok
}

// Options configures a Bus. The zero value is valid.
type Options struct {
	// Now returns the time stamped on published events.
	// Default: time.Now.
	Now func() time.Time
	// OnDrop, if set, is called once for every event that a subscriber
	// does not get, with the event's topic; main uses it to count drops
	// in Prometheus. It is called without any bus lock held, from the
	// publishing goroutine (or from the goroutine calling
	// Subscription.Resume, for discarded buffered events), and must be
	// fast and safe for concurrent use. Default: nil (not called).
	OnDrop func(topic Topic)
}

// Bus delivers published events to subscribers. Create it with New; it
// is safe for concurrent use.
type Bus struct {
	now    func() time.Time
	onDrop func(Topic)

	mu       sync.Mutex
	closed   bool
	seq      uint64
	byTopic  map[Topic][]*Subscription // subscriptions to named topics
	allTopic []*Subscription           // subscriptions to every topic
}

// New returns an empty Bus.
func New(opts Options) *Bus {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Bus{
		now:     now,
		onDrop:  opts.OnDrop,
		byTopic: make(map[Topic][]*Subscription),
	}
}

// Publish stamps p with the next sequence number and the current time
// and delivers it to every subscriber of p's topic and every subscriber
// of all topics. It never blocks: a subscriber whose buffer is full, or
// which is in the lost state, does not get the event (see the package
// documentation). Publish of a nil payload, or after Close, does nothing.
func (b *Bus) Publish(p Payload) {
	if p == nil {
		return
	}
	topic, kind := p.EventTopic(), p.EventKind()

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.seq++
	ev := Event{Seq: b.seq, At: b.now(), Topic: topic, Kind: kind, Payload: p}
	drops := deliver(b.byTopic[topic], &ev) + deliver(b.allTopic, &ev)
	b.mu.Unlock()

	if b.onDrop != nil {
		for range drops {
			b.onDrop(topic)
		}
	}
}

// deliver offers ev to each subscription without blocking and returns
// how many did not take it. The caller holds b.mu.
func deliver(subs []*Subscription, ev *Event) int {
	drops := 0
	for _, s := range subs {
		if !s.lost {
			select {
			case s.events <- *ev:
				continue
			default:
				s.lost = true
				select {
				case s.lost1 <- struct{}{}:
				default:
				}
			}
		}
		s.missed++
		s.dropped.Add(1)
		drops++
	}
	return drops
}

// Subscribe returns a subscription to the given topics, or to every
// topic when none are given. Duplicate topics are ignored. buffer is the
// number of events that may wait unread before the subscription starts
// losing events; values below 1 are treated as 1. After Close, Subscribe
// returns a subscription whose Events channel is already closed.
func (b *Bus) Subscribe(buffer int, topics ...Topic) *Subscription {
	buffer = max(buffer, 1)
	var ts []Topic
	if len(topics) > 0 {
		ts = slices.Clone(topics)
		slices.Sort(ts)
		ts = slices.Compact(ts)
	}
	s := &Subscription{
		bus:    b,
		topics: ts,
		events: make(chan Event, buffer),
		lost1:  make(chan struct{}, 1),
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.closed = true
		close(s.events)
		return s
	}
	if ts == nil {
		b.allTopic = append(b.allTopic, s)
		return s
	}
	for _, t := range ts {
		b.byTopic[t] = append(b.byTopic[t], s)
	}
	return s
}

// Close closes every subscription and makes later Publish calls no-ops.
// It is idempotent.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for _, subs := range b.byTopic {
		for _, s := range subs {
			s.closeLocked()
		}
	}
	for _, s := range b.allTopic {
		s.closeLocked()
	}
	b.byTopic = nil
	b.allTopic = nil
}

// remove takes s out of the subscriber index. The caller holds b.mu.
func (b *Bus) remove(s *Subscription) {
	if s.topics == nil {
		b.allTopic = removeSub(b.allTopic, s)
		return
	}
	for _, t := range s.topics {
		subs := removeSub(b.byTopic[t], s)
		if len(subs) == 0 {
			delete(b.byTopic, t)
		} else {
			b.byTopic[t] = subs
		}
	}
}

// removeSub removes s from subs by moving the last element into its
// place, and clears the vacated slot so the backing array does not keep
// s alive. The order of subscribers in the index carries no meaning.
func removeSub(subs []*Subscription, s *Subscription) []*Subscription {
	i := slices.Index(subs, s)
	if i < 0 {
		return subs
	}
	last := len(subs) - 1
	subs[i] = subs[last]
	subs[last] = nil
	return subs[:last]
}
