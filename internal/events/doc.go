// Package events is civicd's typed in-process event bus.
//
// Modules publish facts on the bus ("a user was created", "a door
// opened", "a phone registered") and any number of subscribers receive
// them. The websocket console is just one more subscriber: each console
// "subscribe" request becomes one [Subscription] for a set of topics.
//
// Any civicd package may import events; it imports nothing from civicd
// itself. Modules must not reach into another module to learn about
// state changes; they subscribe here instead.
//
// # Usage
//
// Create one [Bus] with [New] in main and hand it to the modules that
// publish or subscribe.
//
// An event payload is a plain struct that implements [Payload]: the
// payload type itself names its [Topic] and its kind, so a publisher
// cannot put a door event on the users topic by mistake:
//
//	type DoorState struct {
//		Door   string `json:"door"`
//		Open   bool   `json:"open"`
//		Locked bool   `json:"locked"`
//	}
//
//	func (DoorState) EventTopic() events.Topic { return "building.doors" }
//	func (DoorState) EventKind() string        { return "door.state" }
//
//	bus.Publish(DoorState{Door: "east-1", Open: true})
//
// Publishing stamps the event with a bus-wide sequence number
// ([Event.Seq], starting at 1) and a time ([Event.At], from
// [Options.Now]) and hands it to every subscriber of its topic.
//
// A consumer subscribes to topics (none means every topic) and reads
// [Subscription.Events] until it is closed, watching
// [Subscription.Lost] as well; [As] recovers the typed payload:
//
//	sub := bus.Subscribe(64, "building.doors")
//	defer sub.Close()
//	for {
//		select {
//		case ev, ok := <-sub.Events():
//			if !ok {
//				return // subscription or bus closed
//			}
//			if d, ok := events.As[DoorState](ev); ok {
//				show(d)
//			}
//		case <-sub.Lost():
//			sub.Resume()
//			sendSnapshot() // read current state from its owner
//		}
//	}
//
// # Ordering
//
// Publish assigns the sequence number and enqueues the event for every
// matching subscriber while holding one bus-wide lock, so:
//
//   - Every event is published at one instant between the start and the
//     end of its Publish call, and no two events share an instant. Seq
//     numbers this one timeline: if Publish(E1) returns before
//     Publish(E2) starts, E1.Seq < E2.Seq.
//   - In particular, events published by one goroutine (one call site)
//     reach each subscriber in the order they were published.
//   - Each subscriber receives its events in strictly increasing Seq
//     order, also across concurrent publishers. Subscribers skip events
//     of topics they did not ask for and events that were dropped (see
//     below), but never see the timeline go backwards, and any two
//     subscribers see the events they both receive in the same relative
//     order.
//   - There is no ordering between subscribers: one subscriber may have
//     handled E1 and E2 before another has read E1. Do not assume that
//     another module has already acted on an event you just received.
//
// [Event.At] is read under the same lock, so for a monotonic clock it
// does not decrease as Seq increases.
//
// # Slow subscribers
//
// Publish never blocks. Each subscription has a buffer of the size
// given to [Bus.Subscribe]. When a subscriber's buffer is full:
//
//   - the event is dropped for that subscriber only; every other
//     subscriber still gets it;
//   - the subscriber's drop counter ([Subscription.Dropped]) is
//     incremented and [Options.OnDrop] is called with the event's topic;
//   - the subscriber enters the lost state: [Subscription.Lost] is
//     signalled (a channel with capacity 1), and every further event for
//     it is dropped and counted the same way, even once its buffer has
//     room again, until the consumer calls [Subscription.Resume].
//
// Staying lost until Resume, rather than delivering again as soon as
// there is room, means a consumer never sees a stream with silent holes
// in it: either it sees every event of its topics, or it is told that it
// lost some.
//
// The consumer's contract on Lost is:
//
//  1. Call [Subscription.Resume]. It re-enables delivery and returns how
//     many events this subscriber missed since the previous Resume. It
//     also discards the events still waiting in the buffer: they are
//     older than the snapshot taken in the next step, and applying them
//     after it would move the consumer's view backwards. Those discarded
//     events count as dropped too.
//  2. Take a fresh snapshot of the state it cares about from the module
//     that owns that state, and use it (the console sends it to the
//     browser) in place of everything it knew before.
//  3. Continue reading [Subscription.Events].
//
// An event published between steps 1 and 2 may already be reflected in
// the snapshot and is delivered anyway. Payloads must therefore be
// idempotent state updates: they carry the full new state of the thing
// they describe ("door east-1 is open and unlocked"), never a delta
// ("one more door is open"), so applying one twice is harmless.
//
// Why drop and resynchronise instead of blocking the publisher: the bus
// is shared by every module. If Publish waited for a slow reader, one
// stuck websocket (a laptop lid closed on a hotel network) would stall
// the building module while it publishes a door-forced alarm, and with
// it every other console watching the alarms. Dropping isolates the
// damage to the one subscriber that fell behind, and the snapshot after
// Resume repairs that subscriber without anyone else waiting. Buffers
// only need to absorb bursts, not worst-case stalls.
//
// Subscribers should still read promptly and hand slow work to another
// goroutine; a subscriber that keeps losing events spends its time on
// snapshots.
//
// # Closing
//
// [Subscription.Close] removes the subscription from the bus and closes
// its Events channel; it is idempotent and safe to call concurrently
// with Publish. [Bus.Close] closes every subscription. Publish after
// Close does nothing, and Subscribe after Close returns a subscription
// whose Events channel is already closed. The Lost channel is never
// closed; watch Events to learn that a subscription ended.
//
// # Beyond one process
//
// The bus is in-process today. Events may later cross nodes through
// NATS or Redis pub/sub behind this same API, so:
//
//   - Payloads must be JSON-serialisable structs with exported fields
//     and no channels, functions or pointers into shared state. [Event]
//     marshals to {"seq","at","topic","kind","payload"}.
//   - Do not rely on receiving the very value that was published (a
//     remote bus would deliver a decoded copy), nor on Seq being dense
//     (gaps are normal: other topics, drops).
//   - Topics are plain dotted names such as "users", "audit",
//     "building.doors", "voip.phones". Matching is exact; a subscription
//     to "building" does not receive "building.doors".
package events
