package events

import (
	"slices"
	"sync/atomic"
)

// Subscription receives the events of some topics from a Bus. Create it
// with Bus.Subscribe. Events, Lost, Dropped, Topics and Close are safe
// for concurrent use; Resume is meant to be called by the goroutine that
// reads Events.
type Subscription struct {
	bus    *Bus
	topics []Topic // sorted, deduplicated; nil means every topic; never changes
	events chan Event
	lost1  chan struct{} // capacity 1; signalled on entering the lost state

	dropped atomic.Uint64 // total over the subscription's life

	// Guarded by bus.mu.
	lost   bool   // dropping every event until Resume
	missed uint64 // dropped by Publish since the last Resume
	closed bool
}

// Events returns the channel on which events are delivered, in
// increasing Seq order. It is closed when the subscription or the bus is
// closed.
func (s *Subscription) Events() <-chan Event { return s.events }

// Lost returns a channel (capacity 1) that receives a value when the
// subscription starts losing events because its buffer was full. From
// then on every event for it is dropped until Resume is called. The
// channel is never closed.
func (s *Subscription) Lost() <-chan struct{} { return s.lost1 }

// Resume acknowledges a loss and re-enables delivery. It discards the
// events still waiting in Events, which predate the snapshot the
// consumer takes next, and returns how many events this subscription
// missed since the previous Resume, discarded ones included. It also
// clears a pending Lost signal, so a later Lost always means a new loss.
// When the subscription is not in the lost state, Resume does nothing
// and returns 0. See the package documentation for the full contract.
func (s *Subscription) Resume() uint64 {
	b := s.bus
	b.mu.Lock()
	lost := s.lost && !s.closed
	b.mu.Unlock()
	if !lost {
		return 0
	}

	// While lost, Publish sends nothing to s.events, so the buffer only
	// shrinks; drain it without holding the bus lock.
	var discarded uint64
drain:
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				break drain
			}
			discarded++
			s.dropped.Add(1)
			if b.onDrop != nil {
				b.onDrop(ev.Topic)
			}
		default:
			break drain
		}
	}

	b.mu.Lock()
	n := s.missed
	s.missed = 0
	s.lost = false
	select {
	case <-s.lost1:
	default:
	}
	b.mu.Unlock()
	return n + discarded
}

// Dropped returns how many events this subscription has missed over its
// whole life, including events discarded by Resume.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Topics returns the topics the subscription receives, sorted; nil
// means every topic.
func (s *Subscription) Topics() []Topic { return slices.Clone(s.topics) }

// Close removes the subscription from the bus and closes its Events
// channel. It is idempotent and safe to call concurrently with Publish
// and with Bus.Close. Events still buffered can be read after Close.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return
	}
	if !b.closed {
		b.remove(s)
	}
	s.closeLocked()
}

// closeLocked marks s closed and closes its channel. The caller holds
// bus.mu and has removed s from the index (or is dropping the index).
func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	close(s.events)
}
