package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// userCreated, doorState and auditEntry stand in for the payloads real
// modules define.
type userCreated struct {
	Name string `json:"name"`
}

func (userCreated) EventTopic() Topic { return "users" }
func (userCreated) EventKind() string { return "user.created" }

type doorState struct {
	Door string `json:"door"`
	Open bool   `json:"open"`
}

func (doorState) EventTopic() Topic { return "building.doors" }
func (doorState) EventKind() string { return "door.state" }

type auditEntry struct {
	N int `json:"n"`
}

func (auditEntry) EventTopic() Topic { return "audit" }
func (auditEntry) EventKind() string { return "audit.entry" }

// stamped carries its publisher and per-publisher counter, on a topic
// chosen by the publisher.
type stamped struct {
	Topic     Topic `json:"topic"`
	Publisher int   `json:"publisher"`
	N         int   `json:"n"`
}

func (p stamped) EventTopic() Topic { return p.Topic }
func (stamped) EventKind() string   { return "test.stamped" }

// fakeClock returns 2026-01-01 plus one second per call.
func fakeClock() func() time.Time {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

// recv reads everything currently buffered on s without blocking.
func recv(s *Subscription) []Event {
	var out []Event
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

func kinds(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, string(ev.Topic)+"/"+ev.Kind)
	}
	return out
}

func isClosed(s *Subscription) bool {
	for {
		select {
		case _, ok := <-s.Events():
			if !ok {
				return true
			}
		default:
			return false
		}
	}
}

func TestDeliveryAndTopicFiltering(t *testing.T) {
	publish := []Payload{
		userCreated{Name: "ana"},
		doorState{Door: "east-1", Open: true},
		auditEntry{N: 1},
		doorState{Door: "east-1"},
		nil, // ignored
	}
	tests := []struct {
		name   string
		topics []Topic
		want   []string
	}{
		{"all topics", nil, []string{"users/user.created", "building.doors/door.state", "audit/audit.entry", "building.doors/door.state"}},
		{"one topic", []Topic{"building.doors"}, []string{"building.doors/door.state", "building.doors/door.state"}},
		{"two topics", []Topic{"users", "audit"}, []string{"users/user.created", "audit/audit.entry"}},
		{"duplicate topic delivered once", []Topic{"users", "users"}, []string{"users/user.created"}},
		{"no prefix matching", []Topic{"building"}, []string{}},
		{"unused topic", []Topic{"voip.phones"}, []string{}},
	}
	bus := New(Options{Now: fakeClock()})
	defer bus.Close()
	subs := make([]*Subscription, len(tests))
	for i, tt := range tests {
		subs[i] = bus.Subscribe(16, tt.topics...)
	}
	for _, p := range publish {
		bus.Publish(p)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recv(subs[i])
			if g := kinds(got); !slices.Equal(g, tt.want) {
				t.Errorf("got %v, want %v", g, tt.want)
			}
			for _, ev := range got {
				if ev.Topic != ev.Payload.EventTopic() || ev.Kind != ev.Payload.EventKind() {
					t.Errorf("event %d: topic/kind %s/%s, payload says %s/%s", ev.Seq, ev.Topic, ev.Kind, ev.Payload.EventTopic(), ev.Payload.EventKind())
				}
				// The fake clock ticks once per publish, so At follows Seq.
				if want := time.Date(2026, 1, 1, 0, 0, int(ev.Seq), 0, time.UTC); !ev.At.Equal(want) {
					t.Errorf("event %d: At = %v, want %v", ev.Seq, ev.At, want)
				}
			}
		})
	}
}

func TestEventFields(t *testing.T) {
	bus := New(Options{Now: fakeClock()})
	defer bus.Close()
	sub := bus.Subscribe(4, "building.doors")
	bus.Publish(userCreated{Name: "ana"})
	bus.Publish(doorState{Door: "east-1", Open: true})

	got := recv(sub)
	want := []Event{{
		Seq:     2,
		At:      time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC),
		Topic:   "building.doors",
		Kind:    "door.state",
		Payload: doorState{Door: "east-1", Open: true},
	}}
	if len(got) != len(want) || got[0] != want[0] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestEventJSON(t *testing.T) {
	ev := Event{
		Seq:     7,
		At:      time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC),
		Topic:   "building.doors",
		Kind:    "door.state",
		Payload: doorState{Door: "east-1", Open: true},
	}
	got, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	want := `{"seq":7,"at":"2026-01-01T08:00:00Z","topic":"building.doors","kind":"door.state","payload":{"door":"east-1","open":true}}`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAs(t *testing.T) {
	tests := []struct {
		name     string
		payload  Payload
		wantDoor doorState
		wantOK   bool
	}{
		{"matching type", doorState{Door: "east-1", Open: true}, doorState{Door: "east-1", Open: true}, true},
		{"other type", userCreated{Name: "ana"}, doorState{}, false},
		{"nil payload", nil, doorState{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := As[doorState](Event{Payload: tt.payload})
			if got != tt.wantDoor || ok != tt.wantOK {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.wantDoor, tt.wantOK)
			}
		})
	}
}

func TestSubscribeTopicsAndBuffer(t *testing.T) {
	tests := []struct {
		name       string
		buffer     int
		topics     []Topic
		wantTopics []Topic
		wantCap    int
	}{
		{"all topics", 8, nil, nil, 8},
		{"sorted and deduplicated", 8, []Topic{"voip.phones", "audit", "voip.phones"}, []Topic{"audit", "voip.phones"}, 8},
		{"zero buffer means one", 0, []Topic{"audit"}, []Topic{"audit"}, 1},
		{"negative buffer means one", -5, []Topic{"audit"}, []Topic{"audit"}, 1},
	}
	bus := New(Options{})
	defer bus.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := bus.Subscribe(tt.buffer, tt.topics...)
			defer sub.Close()
			if got := sub.Topics(); !slices.Equal(got, tt.wantTopics) || (got == nil) != (tt.wantTopics == nil) {
				t.Errorf("Topics() = %#v, want %#v", got, tt.wantTopics)
			}
			if got := cap(sub.Events()); got != tt.wantCap {
				t.Errorf("buffer = %d, want %d", got, tt.wantCap)
			}
		})
	}
}

// TestOrderingConcurrentPublishers checks that, with several goroutines
// publishing at once, every subscriber sees strictly increasing Seq, each
// publisher's events in publish order, and subscribers that share events
// see them in the same relative order.
func TestOrderingConcurrentPublishers(t *testing.T) {
	const publishers, perPublisher = 8, 500
	topicOf := func(p int) Topic { return Topic(fmt.Sprintf("t%d", p%2)) }

	bus := New(Options{})
	defer bus.Close()
	const total = publishers * perPublisher
	subs := []*Subscription{
		bus.Subscribe(total),       // every topic
		bus.Subscribe(total),       // every topic
		bus.Subscribe(total, "t0"), // half the publishers
		bus.Subscribe(total, "t1", "t0"),
	}
	wantCount := []int{total, total, total / 2, total}

	var wg sync.WaitGroup
	start := make(chan struct{})
	for p := range publishers {
		wg.Go(func() {
			<-start
			for n := range perPublisher {
				bus.Publish(stamped{Topic: topicOf(p), Publisher: p, N: n})
			}
		})
	}
	close(start)
	wg.Wait()

	var reference []uint64 // Seq order seen by the first subscriber
	for i, sub := range subs {
		got := recv(sub)
		if len(got) != wantCount[i] {
			t.Errorf("sub %d: got %d events, want %d", i, len(got), wantCount[i])
		}
		if d := sub.Dropped(); d != 0 {
			t.Errorf("sub %d: Dropped() = %d, want 0", i, d)
		}
		next := make(map[int]int) // publisher -> next expected N
		var seqs []uint64
		for j, ev := range got {
			if j > 0 && ev.Seq <= got[j-1].Seq {
				t.Fatalf("sub %d: Seq %d after %d", i, ev.Seq, got[j-1].Seq)
			}
			p, ok := As[stamped](ev)
			if !ok {
				t.Fatalf("sub %d: payload %T", i, ev.Payload)
			}
			if p.N != next[p.Publisher] {
				t.Fatalf("sub %d: publisher %d event %d, want %d", i, p.Publisher, p.N, next[p.Publisher])
			}
			next[p.Publisher]++
			seqs = append(seqs, ev.Seq)
		}
		if i == 0 {
			reference = seqs
			continue
		}
		// Every subscriber sees a part of the same timeline as the first
		// one, which receives every event.
		if !isSubsequence(seqs, reference) {
			t.Errorf("sub %d: Seq order is not a subsequence of sub 0's", i)
		}
	}
}

func TestPublishAfterCloseIsNoop(t *testing.T) {
	var drops atomic.Int64
	bus := New(Options{OnDrop: func(Topic) { drops.Add(1) }})
	sub := bus.Subscribe(1, "users")
	bus.Close()
	bus.Publish(userCreated{Name: "ana"}) // must not panic on the closed channel
	if got := recv(sub); len(got) != 0 {
		t.Errorf("got %d events after Close, want 0", len(got))
	}
	if !isClosed(sub) {
		t.Error("Events() not closed after Bus.Close")
	}
	if d := drops.Load(); d != 0 {
		t.Errorf("OnDrop called %d times after Close, want 0", d)
	}

	late := bus.Subscribe(4, "users")
	if !isClosed(late) {
		t.Error("Subscribe after Close: Events() not closed")
	}
	late.Close() // idempotent on an already closed subscription
}

func TestCloseIdempotent(t *testing.T) {
	tests := []struct {
		name  string
		close func(bus *Bus, sub *Subscription)
	}{
		{"subscription twice", func(_ *Bus, sub *Subscription) { sub.Close(); sub.Close() }},
		{"bus twice", func(bus *Bus, _ *Subscription) { bus.Close(); bus.Close() }},
		{"subscription then bus", func(bus *Bus, sub *Subscription) { sub.Close(); bus.Close() }},
		{"bus then subscription", func(bus *Bus, sub *Subscription) { bus.Close(); sub.Close(); sub.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := New(Options{})
			sub := bus.Subscribe(4, "users")
			bus.Publish(userCreated{Name: "ana"})
			tt.close(bus, sub)
			// Events buffered before Close can still be read, then the
			// channel reports closed.
			ev, ok := <-sub.Events()
			if !ok || ev.Kind != "user.created" {
				t.Errorf("first receive = %+v, %v; want the buffered event", ev, ok)
			}
			if _, ok := <-sub.Events(); ok {
				t.Error("Events() still open after Close")
			}
			if got := sub.Resume(); got != 0 {
				t.Errorf("Resume() after Close = %d, want 0", got)
			}
			bus.Close()
		})
	}
}

// TestCloseRacesPublish runs Publish, Subscribe, Subscription.Close and
// Bus.Close concurrently; under -race it finds unsynchronised access,
// and a send on a closed channel would panic.
func TestCloseRacesPublish(t *testing.T) {
	bus := New(Options{OnDrop: func(Topic) {}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				bus.Publish(auditEntry{N: i})
				bus.Publish(userCreated{})
			}
		})
	}
	var mu sync.Mutex
	var all []*Subscription
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				sub := bus.Subscribe(2, "audit")
				mu.Lock()
				all = append(all, sub)
				mu.Unlock()
				if i%2 == 0 {
					sub.Close()
				}
				if i%3 == 0 {
					sub.Resume()
				}
			}
		})
	}
	// Close subscriptions while publishers are still running.
	for range 50 {
		mu.Lock()
		subs := slices.Clone(all)
		mu.Unlock()
		for _, s := range subs {
			s.Close()
		}
	}
	bus.Close()
	close(stop)
	wg.Wait()

	for i, s := range all {
		if !isClosed(s) {
			t.Fatalf("subscription %d not closed after Bus.Close", i)
		}
	}
	if n := indexSize(bus); n != 0 {
		t.Errorf("index holds %d subscriptions after Bus.Close, want 0", n)
	}
}

// indexSize counts the subscriptions referenced by the bus index.
func indexSize(b *Bus) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.allTopic)
	for _, subs := range b.byTopic {
		n += len(subs)
	}
	return n
}

// isSubsequence reports whether sub appears in seq in order.
func isSubsequence(sub, seq []uint64) bool {
	i := 0
	for _, v := range seq {
		if i < len(sub) && sub[i] == v {
			i++
		}
	}
	return i == len(sub)
}
