package events

import (
	"fmt"
	"sync"
	"testing"
)

// drain reads s until it is closed, resuming after every loss, the way
// a console websocket would (minus the snapshot).
func drain(s *Subscription) {
	for {
		select {
		case _, ok := <-s.Events():
			if !ok {
				return
			}
		case <-s.Lost():
			s.Resume()
		}
	}
}

// benchBus returns a bus with n subscribers of topic, each drained by
// its own goroutine, and a function that closes the bus, waits for the
// goroutines and returns the total number of events dropped.
func benchBus(n int, topic Topic) (*Bus, func() uint64) {
	bus := New(Options{})
	subs := make([]*Subscription, n)
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = bus.Subscribe(256, topic)
		wg.Go(func() { drain(subs[i]) })
	}
	return bus, func() uint64 {
		bus.Close()
		wg.Wait()
		var dropped uint64
		for _, s := range subs {
			dropped += s.Dropped()
		}
		return dropped
	}
}

// BenchmarkPublish measures one Publish fanned out to 1, 100 and 1000
// draining subscribers of its topic.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			bus, stop := benchBus(n, "building.doors")
			var p Payload = doorState{Door: "east-1", Open: true}
			b.ReportAllocs()
			published := 0
			for b.Loop() {
				bus.Publish(p)
				published++
			}
			dropped := stop()
			b.ReportMetric(float64(dropped)/float64(published*n), "dropfrac")
		})
	}
}

// BenchmarkPublishOtherTopic measures a Publish on a topic with one
// subscriber while 1000 subscribers wait on another topic: the topic
// index keeps their cost out of the publish.
func BenchmarkPublishOtherTopic(b *testing.B) {
	bus, stop := benchBus(1000, "voip.phones")
	sub := bus.Subscribe(256, "building.doors")
	var wg sync.WaitGroup
	wg.Go(func() { drain(sub) })
	var p Payload = doorState{Door: "east-1", Open: true}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(p)
	}
	stop() // closes the bus, which ends drain(sub) too
	wg.Wait()
}

// BenchmarkPublishParallel measures concurrent publishers contending for
// the bus lock, with 100 draining subscribers.
func BenchmarkPublishParallel(b *testing.B) {
	bus, stop := benchBus(100, "building.doors")
	defer stop()
	var p Payload = doorState{Door: "east-1", Open: true}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bus.Publish(p)
		}
	})
}
