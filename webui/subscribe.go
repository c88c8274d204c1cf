package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"civic/conference"
	"civic/internal/audit"
	"civic/internal/auth"
	"civic/internal/events"
)

// Event kinds published by the console itself.
const (
	userCreated   = "user.created"
	userUpdated   = "user.updated"
	userDeleted   = "user.deleted"
	auditAppended = "audit.appended"
	systemChanged = "system.status"
	kindSnapshot  = "snapshot"
)

// EventTopic implements events.Payload.
func (e UserEvent) EventTopic() events.Topic { return TopicUsers }

// EventKind implements events.Payload.
func (e UserEvent) EventKind() string { return e.Kind }

// EventTopic implements events.Payload.
func (e AuditEvent) EventTopic() events.Topic { return TopicAudit }

// EventKind implements events.Payload.
func (e AuditEvent) EventKind() string { return auditAppended }

// EventTopic implements events.Payload.
func (e SystemStatus) EventTopic() events.Topic { return TopicSystem }

// EventKind implements events.Payload.
func (e SystemStatus) EventKind() string { return systemChanged }

// subscription is one subscribe request's stream of events.
type subscription struct {
	id     int64
	topics []string
	bus    *events.Subscription
}

func (c *conn) handleSubscribe(ctx context.Context, req request) (reply, error) {
	var p SubscribeParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	if len(p.Topics) == 0 {
		return reply{}, apiErrorf(CodeInvalidParams, "topics must list at least one topic")
	}
	role := c.session().User.Role
	seen := make(map[string]bool)
	var topics []string
	var busTopics []events.Topic
	for _, t := range p.Topics {
		spec, ok := topicSpec(t)
		if !ok {
			return reply{}, apiErrorf(CodeInvalidParams, "unknown topic %q", truncate(t, 64))
		}
		if !allowed(spec.Roles, role) {
			return reply{}, apiErrorf(CodeNotAllowed, "your role may not subscribe to %q", t)
		}
		if !seen[t] {
			seen[t] = true
			topics = append(topics, t)
			busTopics = append(busTopics, events.Topic(t))
		}
	}
	sub := &subscription{id: req.ID, topics: topics}
	// Subscribe to the bus before taking snapshots, so no change falls
	// between the snapshot and the stream.
	sub.bus = c.s.deps.Bus.Subscribe(subscriptionBuf, busTopics...)
	c.mu.Lock()
	c.subs[req.ID] = sub
	c.mu.Unlock()
	return reply{
		result: SubscribeResult{Topics: topics},
		after: func() {
			c.sendSnapshots(sub)
			c.subWG.Add(1)
			go c.forward(sub)
		},
	}, nil
}

func (c *conn) handleUnsubscribe(_ context.Context, req request) (reply, error) {
	var p UnsubscribeParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	c.mu.Lock()
	sub := c.subs[p.Subscription]
	delete(c.subs, p.Subscription)
	c.mu.Unlock()
	if sub == nil {
		return reply{}, apiErrorf(CodeNotFound, "no subscription with id %d", p.Subscription)
	}
	sub.bus.Close()
	return reply{}, nil
}

// forward relays a subscription's bus events to the socket. When the bus
// dropped events because this client was slow, it resumes and sends fresh
// snapshots, so the client's state is whole again.
func (c *conn) forward(sub *subscription) {
	defer c.subWG.Done()
	defer sub.bus.Close()
	for {
		select {
		case ev, ok := <-sub.bus.Events():
			if !ok {
				return
			}
			body, err := c.s.events.body(ev)
			if err != nil {
				c.log.Error("encode event", "topic", ev.Topic, "kind", ev.Kind, "err", err)
				continue
			}
			c.sendRaw(eventMessage(sub.id, body))
		case <-sub.bus.Lost():
			n := sub.bus.Resume()
			c.s.metrics.wsResyncs.Inc()
			c.log.Info("console client fell behind; resyncing", "dropped", n, "subscription", sub.id)
			c.sendSnapshots(sub)
		case <-c.ctx.Done():
			return
		}
	}
}

// sendSnapshots sends the current state of each of the subscription's topics.
func (c *conn) sendSnapshots(sub *subscription) {
	for _, t := range sub.topics {
		snap, err := c.s.snapshot(c.ctx, t)
		if errors.Is(err, errNoSnapshot) {
			continue
		}
		if err != nil {
			c.log.Error("snapshot for subscription", "topic", t, "err", err)
			continue
		}
		data, err := json.Marshal(snap)
		if err != nil {
			c.log.Error("encode snapshot", "topic", t, "err", err)
			continue
		}
		c.send(EventMsg{ID: sub.id, Type: TypeEvent, Event: EventDetail{
			Topic: t, Kind: kindSnapshot, At: time.Now().UTC().Format(time.RFC3339Nano), Data: data,
		}})
	}
}

// errNoSnapshot is snapshot's answer for a topic of events only, such as
// voip.dtmf (a key press is over once it is reported) and building.access
// (the stored access events are a search, building.access.list).
var errNoSnapshot = errors.New("the topic has no snapshot")

// snapshot returns the whole current state of a topic.
func (s *Server) snapshot(ctx context.Context, topic string) (any, error) {
	switch topic {
	case TopicSystem:
		return s.systemStatus(), nil
	case TopicUsers:
		users, err := s.deps.Auth.ListUsers(ctx)
		if err != nil {
			return nil, err
		}
		return UsersSnapshot{Users: users}, nil
	case TopicMeetings:
		if s.deps.Conference == nil {
			return MeetingsResult{Meetings: []conference.Meeting{}}, nil
		}
		ms, err := s.deps.Conference.ListMeetings(ctx)
		if err != nil {
			return nil, err
		}
		return MeetingsResult{Meetings: ms}, nil
	case TopicPhones:
		return s.phonesSnapshot(), nil
	case TopicCalls:
		return s.callsSnapshot(), nil
	case TopicDTMF, TopicBuildingAccess:
		return nil, errNoSnapshot
	case TopicBuildingDoors:
		return s.doorsSnapshot(), nil
	case TopicBuildingAlarms:
		return s.alarmsSnapshot(), nil
	case TopicBuildingControllers:
		return s.controllersSnapshot(), nil
	case TopicBuildingCameras:
		return s.camerasSnapshot(), nil
	case TopicAudit:
		entries, _, err := s.deps.Audit.List(ctx, audit.Filter{Limit: 50})
		if err != nil {
			return nil, err
		}
		if entries == nil {
			entries = []audit.Entry{}
		}
		return AuditSnapshot{Entries: entries}, nil
	}
	return nil, fmt.Errorf("no snapshot for topic %q", topic)
}

// publishUser announces a user change on the bus.
func (s *Server) publishUser(kind string, u auth.User) {
	s.deps.Bus.Publish(UserEvent{Kind: kind, User: u})
}
