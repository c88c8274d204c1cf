package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"civic/building/mqttlink/wire"
)

const controlHelp = `Control commands (one per line on standard input, or "do" in the script):

  swipe CTRL READER CARD [PIN]   present a card at a reader
  open DOOR                      open the door (refused while it is locked)
  force DOOR                     open the door even though it is locked
  close DOOR                     close the door
  rex DOOR                       press the request-to-exit button
  tamper DOOR [on|off]           set the tamper switch (default on)
  fault DOOR                     the door contact reports a fault
  stop-heartbeat CTRL|all        stop sending heartbeats
  start-heartbeat CTRL|all       send one now and resume
  drop CTRL [hold]               cut the connection without DISCONNECT (the
                                 broker publishes the will); it reconnects at
                                 once, or with hold only after reconnect
  reconnect CTRL                 let a controller held down by drop connect
  snapshot CTRL                  report the state of every door
  publish CTRL TOPIC PAYLOAD     publish PAYLOAD (the rest of the line) at
                                 QoS 1; a TOPIC starting "~/" is under the
                                 controller's own root; {id} and {ts} in
                                 PAYLOAD become a fresh message id and now
  publish-big CTRL TOPIC BYTES   publish a valid-looking payload of BYTES
  subscribe CTRL FILTER          subscribe (prints the broker's answer)
  quit                           say offline, disconnect and exit

Each command prints {"event":"control","line":...} when done, or
{"event":"error",...}.
`

// exec runs one control command.
func (s *sim) exec(ctx context.Context, line string) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		return errors.New("empty command")
	}
	args := f[1:]
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("%s needs %d arguments (see --help)", f[0], n)
		}
		return nil
	}
	switch f[0] {
	case "quit":
		s.stop()
		return nil
	case "swipe":
		if err := need(3); err != nil {
			return err
		}
		c, err := s.ctrl(args[0])
		if err != nil {
			return err
		}
		pin := ""
		if len(args) > 3 {
			pin = args[3]
		}
		return c.swipe(ctx, args[1], args[2], pin)
	case "open", "force", "close", "rex", "tamper", "fault":
		if err := need(1); err != nil {
			return err
		}
		return s.doorAction(f[0], args[0], args[1:])
	case "stop-heartbeat", "start-heartbeat":
		if err := need(1); err != nil {
			return err
		}
		on := f[0] == "start-heartbeat"
		targets := s.ctrls
		if args[0] != "all" {
			c, err := s.ctrl(args[0])
			if err != nil {
				return err
			}
			targets = []*controller{c}
		}
		for _, c := range targets {
			c.hbOn.Store(on)
			if on {
				c.sendHeartbeat(ctx)
			}
		}
		return nil
	case "drop", "reconnect":
		if err := need(1); err != nil {
			return err
		}
		c, err := s.ctrl(args[0])
		if err != nil {
			return err
		}
		if f[0] == "reconnect" {
			return c.reconnect()
		}
		hold := len(args) > 1 && args[1] == "hold"
		if len(args) > 1 && !hold {
			return errors.New("drop takes CTRL [hold]")
		}
		return c.drop(hold)
	case "snapshot":
		if err := need(1); err != nil {
			return err
		}
		c, err := s.ctrl(args[0])
		if err != nil {
			return err
		}
		c.snapshot()
		return nil
	case "publish", "publish-big":
		n := 2 // publish may have an empty payload
		if f[0] == "publish-big" {
			n = 3
		}
		if err := need(n); err != nil {
			return err
		}
		c, err := s.ctrl(args[0])
		if err != nil {
			return err
		}
		topic := c.resolveTopic(args[1])
		var payload []byte
		if f[0] == "publish" {
			payload = []byte(restAfter(line, 3))
			payload = []byte(strings.NewReplacer("{id}", c.nextID(), "{ts}", time.Now().Format(time.RFC3339Nano)).Replace(string(payload)))
		} else {
			size, err := strconv.Atoi(args[2])
			if err != nil || size < 0 || size > 1<<20 {
				return errors.New("publish-big: BYTES must be 0-1048576")
			}
			payload = bigPayload(c.nextID(), size)
		}
		err = c.publishRaw(ctx, topic, payload, 1, false)
		if err != nil {
			c.emit("publish_refused", "topic", topic, "bytes", len(payload), "error", err)
			return nil // the refusal is the outcome a test looks for
		}
		c.emit("published", "topic", topic, "bytes", len(payload))
		return nil
	case "subscribe":
		if err := need(2); err != nil {
			return err
		}
		c, err := s.ctrl(args[0])
		if err != nil {
			return err
		}
		if !c.up.Load() {
			return errors.New("not connected")
		}
		sctx, cancel := context.WithTimeout(ctx, publishTimeout)
		defer cancel()
		ack, err := c.cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: args[1], QoS: 1}}})
		if err != nil && ack == nil {
			c.emit("subscribe_refused", "filter", args[1], "error", err)
			return nil
		}
		code := byte(0x80)
		if len(ack.Reasons) > 0 {
			code = ack.Reasons[0]
		}
		if code >= 0x80 {
			c.emit("subscribe_refused", "filter", args[1], "code", code)
		} else {
			c.emit("subscribed", "filter", args[1], "code", code)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q (see --help)", f[0])
}

func (s *sim) ctrl(id string) (*controller, error) {
	c := s.byID[id]
	if c == nil {
		return nil, fmt.Errorf("no controller %q", id)
	}
	return c, nil
}

// doorAction changes a door's contact, tamper switch or exit button.
func (s *sim) doorAction(action, doorID string, rest []string) error {
	c := s.doorOwner[doorID]
	if c == nil {
		return fmt.Errorf("no door %q", doorID)
	}
	d := c.doors[doorID]
	switch action {
	case "open":
		c.mu.Lock()
		locked := d.lock == wire.LockLocked
		c.mu.Unlock()
		if locked {
			return fmt.Errorf("door %s is locked (use force)", doorID)
		}
		c.change(d, "open", false, func(d *door) { d.contact = wire.ContactOpen })
	case "force":
		c.change(d, "force", false, func(d *door) { d.contact = wire.ContactOpen })
	case "close":
		c.change(d, "close", false, func(d *door) { d.contact = wire.ContactClosed })
	case "fault":
		c.change(d, "fault", false, func(d *door) { d.contact = wire.ContactFault })
	case "rex":
		c.change(d, "rex", true, func(*door) {})
	case "tamper":
		on := len(rest) == 0 || rest[0] == "on"
		if len(rest) > 0 && rest[0] != "on" && rest[0] != "off" {
			return errors.New("tamper takes on or off")
		}
		c.change(d, "tamper", false, func(d *door) { d.tamper = on })
	}
	return nil
}

// restAfter returns line after its first n space-separated fields.
func restAfter(line string, n int) string {
	s := strings.TrimLeft(line, " \t")
	for range n {
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return ""
		}
		s = strings.TrimLeft(s[i:], " \t")
	}
	return s
}

// bigPayload is a heartbeat padded to n bytes (at least the bare
// heartbeat).
func bigPayload(id string, n int) []byte {
	head := fmt.Sprintf(`{"v":1,"id":%q,"ts":%q,"pad":"`, id, time.Now().Format(time.RFC3339Nano))
	pad := n - len(head) - 2
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}
