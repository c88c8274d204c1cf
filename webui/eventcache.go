package webui

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"civic/internal/events"
)

// eventCache encodes each bus event once, however many sockets forward it.
// With 1,000 consoles subscribed, encoding per socket would do the same
// JSON work 1,000 times per event. It keeps the last few encodings by
// sequence number; a socket that falls further behind than that gets a
// snapshot anyway.
type eventCache struct {
	mu   sync.Mutex
	ring [64]cachedEvent
}

type cachedEvent struct {
	seq  uint64
	body []byte // the JSON of EventDetail
}

// body returns the encoded EventDetail of ev.
func (c *eventCache) body(ev events.Event) ([]byte, error) {
	slot := &c.ring[ev.Seq%uint64(len(c.ring))]
	c.mu.Lock()
	if slot.seq == ev.Seq && slot.body != nil {
		b := slot.body
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	data, err := json.Marshal(ev.Payload)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(EventDetail{
		Topic: string(ev.Topic), Kind: ev.Kind, Seq: ev.Seq, At: ev.At.UTC().Format(time.RFC3339Nano), Data: data,
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	slot.seq, slot.body = ev.Seq, b
	c.mu.Unlock()
	return b, nil
}

// eventMessage frames an encoded EventDetail as the event message of
// subscription id; it is the JSON of EventMsg, built without re-encoding.
func eventMessage(id int64, body []byte) []byte {
	b := make([]byte, 0, len(body)+48)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"type":"event","event":`...)
	b = append(b, body...)
	return append(b, '}')
}
