package mqttlink

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"civic/building/mqttlink/wire"
)

// connectExternal starts the connection to the external broker; autopaho
// keeps reconnecting (backoff 1 s doubling to 30 s) and each connection
// subscribes again.
func (l *Link) connectExternal() error {
	u, err := url.Parse(l.cfg.URL)
	if err != nil {
		return fmt.Errorf("%w: mqtt.url", ErrInvalid)
	}
	broker := u.Redacted()
	var user string
	var pass []byte
	if u.User != nil {
		user = u.User.Username()
		p, _ := u.User.Password()
		pass = []byte(p)
	}
	server := *u
	server.User = nil
	cc := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{&server},
		TlsCfg:                        l.cfg.TLS,
		KeepAlive:                     20,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         60,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(time.Second, 30*time.Second, 2*time.Second, 2),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               user,
		ConnectPassword:               pass,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			l.log.Info("mqtt connected to broker", "broker", broker)
			go l.subscribeExternal(cm)
		},
		OnConnectionDown: func() bool {
			l.log.Warn("mqtt connection to broker lost", "broker", broker)
			return true
		},
		OnConnectError: func(err error) {
			l.warn.Warn("connect", "mqtt broker connect failed", "broker", broker, "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: l.cfg.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					l.receive(pr.Packet.Topic, pr.Packet.Payload, "")
					return true, nil
				},
			},
		},
	}
	cm, err := autopaho.NewConnection(l.ctx, cc)
	if err != nil {
		return fmt.Errorf("mqtt connect %s: %w", broker, err)
	}
	l.cmMu.Lock()
	l.cm = cm
	l.cmMu.Unlock()
	return nil
}

// subscribeExternal subscribes to every controller's upstream topics.
func (l *Link) subscribeExternal(cm *autopaho.ConnectionManager) {
	subs := make([]paho.SubscribeOptions, len(wire.Subscriptions))
	for i, f := range wire.Subscriptions {
		subs[i] = paho.SubscribeOptions{Topic: f, QoS: 1, NoLocal: true}
	}
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.CallTimeout)
	defer cancel()
	ack, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if err != nil {
		l.log.Error("mqtt subscribe failed", "err", err)
		return
	}
	refused := false
	for i, code := range ack.Reasons {
		if code >= 0x80 && i < len(subs) {
			refused = true
			l.log.Error("mqtt subscription refused by the broker", "filter", subs[i].Topic, "code", code)
		}
	}
	if !refused {
		l.log.Info("mqtt subscribed to the controllers' topics")
	}
}

// publishExternal publishes at QoS 1 and waits for the broker's PUBACK.
func (l *Link) publishExternal(ctx context.Context, topic string, payload []byte) error {
	l.cmMu.Lock()
	cm := l.cm
	l.cmMu.Unlock()
	if cm == nil {
		return ErrNotRunning
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	defer cancel()
	if _, err := cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: payload}); err != nil {
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return nil
}
