package confbridge

import (
	"sync"
)

// roomBridge is one meeting's audio as its phones take part: which
// phones are in it. (Mixing the room for each phone lands with the mixer
// of voip/audio/mix.)
type roomBridge struct {
	b    *Bridge
	room string

	mu     sync.Mutex
	phones map[*call]bool
}

// roomFor returns the bridge of a meeting's audio, making it for its
// first phone.
func (b *Bridge) roomFor(room string) (*roomBridge, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rb := b.rooms[room]; rb != nil {
		return rb, nil
	}
	rb := &roomBridge{b: b, room: room, phones: map[*call]bool{}}
	b.rooms[room] = rb
	return rb, nil
}

// add puts a phone in the room's audio.
func (rb *roomBridge) add(c *call) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	rb.phones[c] = true
}

// remove takes a phone out; the last one out ends the room's audio.
func (rb *roomBridge) remove(c *call) {
	rb.mu.Lock()
	delete(rb.phones, c)
	empty := len(rb.phones) == 0
	rb.mu.Unlock()
	if !empty {
		return
	}
	rb.b.mu.Lock()
	if rb.b.rooms[rb.room] == rb {
		delete(rb.b.rooms, rb.room)
	}
	rb.b.mu.Unlock()
}
