package events

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"weak"
)

// dropCounter counts OnDrop calls per topic.
type dropCounter struct {
	mu sync.Mutex
	n  map[Topic]int
}

func (d *dropCounter) onDrop(t Topic) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = make(map[Topic]int)
	}
	d.n[t]++
}

func (d *dropCounter) get(t Topic) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[t]
}

func lostSignalled(s *Subscription) bool {
	select {
	case <-s.Lost():
		return true
	default:
		return false
	}
}

// failAfter fails the test if done is not closed within d. It guards
// against a hang (Publish blocking, a deadlock); it is not used to wait
// for work to happen.
func failAfter(t *testing.T, d time.Duration, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestSlowSubscriber(t *testing.T) {
	const n, buffer = 10_000, 4
	var drops dropCounter
	bus := New(Options{OnDrop: drops.onDrop})
	defer bus.Close()
	slow := bus.Subscribe(buffer, "audit")
	healthy := bus.Subscribe(n, "audit")

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			bus.Publish(auditEntry{N: i})
		}
	}()
	failAfter(t, 30*time.Second, "publishing to a subscriber that never reads", done)

	if !lostSignalled(slow) {
		t.Error("Lost() not signalled for the slow subscriber")
	}
	if lostSignalled(healthy) {
		t.Error("Lost() signalled for the healthy subscriber")
	}
	if got, want := slow.Dropped(), uint64(n-buffer); got != want {
		t.Errorf("slow Dropped() = %d, want %d", got, want)
	}
	if got, want := drops.get("audit"), n-buffer; got != want {
		t.Errorf("OnDrop calls = %d, want %d", got, want)
	}
	if got := len(recv(healthy)); got != n {
		t.Errorf("healthy subscriber got %d events, want %d", got, n)
	}

	// Resume discards the buffered events (older than the snapshot the
	// consumer takes next) and reports them with the dropped ones.
	if got, want := slow.Resume(), uint64(n); got != want {
		t.Errorf("Resume() = %d, want %d", got, want)
	}
	if got, want := slow.Dropped(), uint64(n); got != want {
		t.Errorf("Dropped() after Resume = %d, want %d", got, want)
	}
	if got, want := drops.get("audit"), n; got != want {
		t.Errorf("OnDrop calls after Resume = %d, want %d", got, want)
	}
	if got := recv(slow); len(got) != 0 {
		t.Errorf("%d stale events left after Resume, want 0", len(got))
	}

	// Delivery continues after Resume.
	for i := range 3 {
		bus.Publish(auditEntry{N: n + i})
	}
	got := recv(slow)
	var gotSeq []uint64
	for _, ev := range got {
		gotSeq = append(gotSeq, ev.Seq)
	}
	if want := []uint64{n + 1, n + 2, n + 3}; !slices.Equal(gotSeq, want) {
		t.Errorf("after Resume got Seq %v, want %v", gotSeq, want)
	}
	if got, want := slow.Resume(), uint64(0); got != want {
		t.Errorf("second Resume() = %d, want %d", got, want)
	}

	// A second loss is signalled again.
	for i := range buffer + 1 {
		bus.Publish(auditEntry{N: i})
	}
	if !lostSignalled(slow) {
		t.Error("Lost() not signalled for the second loss")
	}
	if got, want := slow.Resume(), uint64(buffer+1); got != want {
		t.Errorf("Resume() after second loss = %d, want %d", got, want)
	}
}

// TestLostStateDropsUntilResume checks the steps of the lost state with
// a buffer of 2, using the Seq of what is delivered.
func TestLostStateDropsUntilResume(t *testing.T) {
	type step struct {
		publish    int      // events to publish on "audit"
		read       bool     // read everything buffered
		read1      bool     // read one event
		resume     bool     // call Resume
		wantSeq    []uint64 // Seq read (when read)
		wantResume uint64   // Resume's result (when resume)
		wantLost   bool     // Lost() signalled after the step
		wantDrop   uint64   // Dropped() after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no loss", []step{
			{publish: 2},
			{read: true, wantSeq: []uint64{1, 2}},
			{resume: true, wantResume: 0},
		}},
		{"resume without loss keeps buffered events", []step{
			{publish: 2},
			{resume: true, wantResume: 0},
			{read: true, wantSeq: []uint64{1, 2}},
		}},
		{"stays lost while the buffer has room", []step{
			{publish: 3, wantLost: true, wantDrop: 1},
			{read: true, wantSeq: []uint64{1, 2}, wantDrop: 1},
			{publish: 2, wantDrop: 3},
			{read: true, wantSeq: nil, wantDrop: 3},
			{resume: true, wantResume: 3, wantDrop: 3},
			{publish: 1, wantDrop: 3},
			{read: true, wantSeq: []uint64{6}, wantDrop: 3},
		}},
		{"resume discards the buffer", []step{
			{publish: 4, wantLost: true, wantDrop: 2},
			{resume: true, wantResume: 4, wantDrop: 4},
			{publish: 1, wantDrop: 4},
			{read: true, wantSeq: []uint64{5}, wantDrop: 4},
		}},
		{"resume discards a partly read buffer", []step{
			{publish: 3, wantLost: true, wantDrop: 1},
			{read1: true, wantSeq: []uint64{1}, wantDrop: 1},
			{resume: true, wantResume: 2, wantDrop: 2},
			{publish: 2, wantDrop: 2},
			{read: true, wantSeq: []uint64{4, 5}, wantDrop: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := New(Options{})
			defer bus.Close()
			sub := bus.Subscribe(2, "audit")
			for i, st := range tt.steps {
				for range st.publish {
					bus.Publish(auditEntry{N: i})
				}
				if st.read1 {
					ev := <-sub.Events()
					if got := []uint64{ev.Seq}; !slices.Equal(got, st.wantSeq) {
						t.Errorf("step %d: read Seq %v, want %v", i, got, st.wantSeq)
					}
				}
				if st.read {
					var got []uint64
					for _, ev := range recv(sub) {
						got = append(got, ev.Seq)
					}
					if !slices.Equal(got, st.wantSeq) {
						t.Errorf("step %d: read Seq %v, want %v", i, got, st.wantSeq)
					}
				}
				if st.resume {
					if got := sub.Resume(); got != st.wantResume {
						t.Errorf("step %d: Resume() = %d, want %d", i, got, st.wantResume)
					}
				}
				if got := lostSignalled(sub); got != st.wantLost {
					t.Errorf("step %d: Lost signalled = %v, want %v", i, got, st.wantLost)
				}
				if got := sub.Dropped(); got != st.wantDrop {
					t.Errorf("step %d: Dropped() = %d, want %d", i, got, st.wantDrop)
				}
			}
		})
	}
}

func TestResumeClearsPendingLostSignal(t *testing.T) {
	bus := New(Options{})
	defer bus.Close()
	sub := bus.Subscribe(1, "audit")
	bus.Publish(auditEntry{N: 1})
	bus.Publish(auditEntry{N: 2}) // dropped: lost
	// The consumer resumes without having read Lost (say it noticed the
	// gap another way); the stale signal must not trigger a second
	// resynchronisation.
	if got := sub.Resume(); got != 2 {
		t.Errorf("Resume() = %d, want 2", got)
	}
	if lostSignalled(sub) {
		t.Error("Lost() still signalled after Resume")
	}
}

func TestWildcardSubscriberDropTopic(t *testing.T) {
	var drops dropCounter
	bus := New(Options{OnDrop: drops.onDrop})
	defer bus.Close()
	sub := bus.Subscribe(1)
	bus.Publish(userCreated{Name: "ana"})
	bus.Publish(doorState{Door: "east-1"})
	bus.Publish(auditEntry{N: 1})
	tests := []struct {
		topic Topic
		want  int
	}{
		{"users", 0},
		{"building.doors", 1},
		{"audit", 1},
	}
	for _, tt := range tests {
		if got := drops.get(tt.topic); got != tt.want {
			t.Errorf("OnDrop(%q) calls = %d, want %d", tt.topic, got, tt.want)
		}
	}
	// Resume discards the buffered "users" event and reports its topic.
	if got := sub.Resume(); got != 3 {
		t.Errorf("Resume() = %d, want 3", got)
	}
	if got := drops.get("users"); got != 1 {
		t.Errorf("OnDrop(users) after Resume = %d, want 1", got)
	}
}

// TestOnDropWithoutLock checks that OnDrop runs without the bus lock
// held, so it may do anything, including using the bus.
func TestOnDropWithoutLock(t *testing.T) {
	var bus *Bus
	var calls, locked int
	bus = New(Options{OnDrop: func(Topic) {
		calls++
		// Only this goroutine uses the bus, so TryLock fails only if
		// the caller holds the lock.
		if !bus.mu.TryLock() {
			locked++
			return
		}
		bus.mu.Unlock()
	}})
	defer bus.Close()
	sub := bus.Subscribe(1, "audit")
	bus.Publish(auditEntry{N: 1})
	bus.Publish(auditEntry{N: 2}) // dropped
	sub.Resume()                  // discards the buffered event
	if calls != 2 {
		t.Errorf("OnDrop calls = %d, want 2", calls)
	}
	if locked != 0 {
		t.Errorf("OnDrop called with the bus lock held %d times, want 0", locked)
	}
}

func TestCloseRemovesFromIndex(t *testing.T) {
	type subSpec struct {
		topics []Topic
		close  bool
	}
	tests := []struct {
		name     string
		subs     []subSpec
		wantSize int
		wantKeys []Topic // topics left in the index
	}{
		{"close only subscriber", []subSpec{{[]Topic{"a"}, true}}, 0, nil},
		{"close first of three", []subSpec{{[]Topic{"a"}, true}, {[]Topic{"a"}, false}, {[]Topic{"a"}, false}}, 2, []Topic{"a"}},
		{"close middle of three", []subSpec{{[]Topic{"a"}, false}, {[]Topic{"a"}, true}, {[]Topic{"a"}, false}}, 2, []Topic{"a"}},
		{"close last of three", []subSpec{{[]Topic{"a"}, false}, {[]Topic{"a"}, false}, {[]Topic{"a"}, true}}, 2, []Topic{"a"}},
		{"multi-topic removed from every topic", []subSpec{{[]Topic{"a", "b"}, true}, {[]Topic{"b"}, false}}, 1, []Topic{"b"}},
		{"wildcard", []subSpec{{nil, true}, {nil, false}, {[]Topic{"a"}, true}}, 1, nil},
		{"close all", []subSpec{{nil, true}, {[]Topic{"a", "b"}, true}, {[]Topic{"b"}, true}}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := New(Options{})
			defer bus.Close()
			subs := make([]*Subscription, len(tt.subs))
			for i, sp := range tt.subs {
				subs[i] = bus.Subscribe(4, sp.topics...)
			}
			for i, sp := range tt.subs {
				if sp.close {
					subs[i].Close()
				}
			}
			if got := indexSize(bus); got != tt.wantSize {
				t.Errorf("index size = %d, want %d", got, tt.wantSize)
			}
			bus.mu.Lock()
			var keys []Topic
			for k := range bus.byTopic {
				keys = append(keys, k)
			}
			bus.mu.Unlock()
			slices.Sort(keys)
			if !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("index topics = %v, want %v", keys, tt.wantKeys)
			}

			// Open subscriptions still get their events; closed ones do not.
			bus.Publish(stamped{Topic: "a"})
			bus.Publish(stamped{Topic: "b"})
			for i, sp := range tt.subs {
				want := 0
				if !sp.close {
					want = len(sp.topics)
					if sp.topics == nil {
						want = 2
					}
				}
				if got := len(recv(subs[i])); got != want {
					t.Errorf("sub %d got %d events, want %d", i, got, want)
				}
			}
		})
	}
}

// TestClosedSubscriptionIsCollectable checks that the bus keeps no
// reference to a closed subscription, so 1000 websockets coming and
// going do not leak.
func TestClosedSubscriptionIsCollectable(t *testing.T) {
	bus := New(Options{})
	defer bus.Close()
	keep := bus.Subscribe(4, "a")
	defer keep.Close()

	sub := bus.Subscribe(4, "a", "b")
	all := bus.Subscribe(4)
	bus.Publish(stamped{Topic: "a"})
	wsub, wall := weak.Make(sub), weak.Make(all)
	sub.Close()
	all.Close()
	sub, all = nil, nil

	for range 10 {
		runtime.GC()
		if wsub.Value() == nil && wall.Value() == nil {
			break
		}
	}
	if wsub.Value() != nil {
		t.Error("closed topic subscription still reachable")
	}
	if wall.Value() != nil {
		t.Error("closed all-topics subscription still reachable")
	}
	if got := indexSize(bus); got != 1 {
		t.Errorf("index size = %d, want 1", got)
	}
}
