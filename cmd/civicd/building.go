package main

import (
	"context"
	"log/slog"
	"sync"

	"civic/building"
	"civic/building/cameras"
	"civic/building/mqttlink"
	"civic/configs"
	"civic/internal/auth"
	"civic/internal/events"
	"civic/internal/rtc"
	"civic/voip"
)

// buildingParts are the access-control engine and its MQTT link (nil
// when mqtt.listen and mqtt.url are both empty: no controller can reach
// civicd, but the model and the console still work).
type buildingParts struct {
	svc  *building.Service
	link *mqttlink.Link
}

// newBuilding builds the engine and its transport and ties them together.
func newBuilding(cfg *configs.Config, svc *building.Service, logger *slog.Logger) (*buildingParts, error) {
	p := &buildingParts{svc: svc}
	mc := mqttlink.Config{Listen: cfg.MQTT.Listen, URL: cfg.MQTT.URL}
	if !mc.Enabled() {
		logger.Warn("mqtt is off (mqtt.listen and mqtt.url are empty): door controllers cannot connect")
		return p, nil
	}
	link, err := mqttlink.New(mc, svc, logger.With("module", "mqtt"))
	if err != nil {
		return nil, err
	}
	svc.SetCommander(link)
	p.link = link
	return p, nil
}

// mqttDetail is the mqtt line of system.status.
func (p *buildingParts) mqttDetail() string {
	if p.link == nil {
		return "off"
	}
	return p.link.Addr()
}

// doorStation opens a door when the phone that answered a door station's
// call presses the door's digit (ARCHITECTURE.md flow 4). The unlock is
// the answering extension's linked console user's, so their role decides
// and the audit log names them.
type doorStation struct {
	doors    stationDoors
	phones   stationPhones
	accounts stationUsers
	log      *slog.Logger
}

// What the door station needs of building, voip and auth.
type (
	stationDoors interface {
		DoorForStation(ext string) (doorID, digit string, ok bool)
		UnlockMomentary(ctx context.Context, actor building.Actor, door string, seconds int) (string, error)
	}
	stationPhones interface {
		Calls() []voip.Call
		Phones() []voip.Phone
	}
	stationUsers interface {
		UserByName(ctx context.Context, name string) (auth.User, error)
	}
)

// run acts on key presses until ctx ends.
func (d *doorStation) run(ctx context.Context, bus *events.Bus) {
	sub := bus.Subscribe(64, voip.TopicDTMF)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				return
			}
			if key, ok := events.As[voip.DTMFEvent](ev); ok {
				d.key(ctx, key)
			}
		}
	}
}

// key handles one key press.
func (d *doorStation) key(ctx context.Context, key voip.DTMFEvent) {
	var call voip.Call
	found := false
	for _, c := range d.phones.Calls() {
		if c.ID == key.CallID {
			call, found = c, true
			break
		}
	}
	if !found {
		return
	}
	door, digit, ok := d.doors.DoorForStation(call.Caller)
	if !ok || key.Extension != call.Target || key.Digit != digit {
		return // not a door station's call, not the answering phone, or another key
	}
	user := ""
	for _, p := range d.phones.Phones() {
		if p.Extension.Number == call.Target {
			user = p.Extension.User
		}
	}
	actor := building.Actor{User: user, Source: "sip:" + call.Target}
	if user != "" {
		if u, err := d.accounts.UserByName(ctx, user); err == nil && !u.Disabled {
			actor.Role = string(u.Role)
		}
	}
	if actor.Role == "" {
		// No linked (enabled) user: the unlock is refused and audited
		// as the extension's.
		actor.User = "sip:" + call.Target
	}
	if _, err := d.doors.UnlockMomentary(ctx, actor, door, 0); err != nil {
		d.log.Info("door station: not unlocked", "door", door, "station", call.Caller, "answered_by", call.Target, "err", err)
		return
	}
	d.log.Info("door station: unlocked", "door", door, "station", call.Caller, "answered_by", call.Target, "user", actor.User)
}

// runBuilding runs the engine and the link until ctx ends; a failure of
// either stops the daemon, as the other modules' do.
func runBuilding(ctx context.Context, wg *sync.WaitGroup, mods *moduleTable, p *buildingParts, errc chan<- error, cancel context.CancelFunc) {
	fail := func(err error) {
		mods.set("building", "failed", err.Error())
		select {
		case errc <- err:
		default:
		}
		cancel()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		mods.set("building", "running", "mqtt "+p.mqttDetail())
		if err := p.svc.Run(ctx); err != nil {
			fail(err)
		}
	}()
	if p.link == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.link.Run(ctx); err != nil {
			fail(err)
		}
	}()
}

// shutdown stops the link first (no more controller messages), then the
// engine.
func (p *buildingParts) shutdown(ctx context.Context, logger *slog.Logger) {
	if p.link != nil {
		if err := p.link.Shutdown(ctx); err != nil {
			logger.Error("shutdown mqtt", "err", err)
		}
	}
	if err := p.svc.Shutdown(ctx); err != nil {
		logger.Error("shutdown building", "err", err)
	}
}

// camerasConfig is building/cameras' set-up from the config; live views
// share the meetings' WebRTC ports.
func camerasConfig(cfg *configs.Config, engine *rtc.Engine) cameras.Config {
	c := cfg.Cameras
	return cameras.Config{
		NewPeerConnection: engine.NewViewerConnection,
		CheckInterval:     c.CheckInterval,
		SampleFor:         c.SampleFor,
		Timeout:           c.Timeout,
		OfflineAfter:      c.OfflineAfter,
		MinFPS:            c.MinFPS,
		KeyframeTimeout:   c.KeyframeTimeout,
		ViewerGrace:       c.ViewerGrace,
		MaxViewers:        c.MaxViewers,
	}
}
