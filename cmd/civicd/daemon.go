package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pion/webrtc/v4"

	"civic/building"
	"civic/building/cameras"
	"civic/conference"
	"civic/configs"
	"civic/internal/audit"
	"civic/internal/auth"
	"civic/internal/events"
	"civic/internal/rtc"
	"civic/internal/store"
	"civic/voip"
	"civic/voip/confbridge"
	"civic/webui"
)

// shutdownGrace bounds the graceful part of shutdown.
const shutdownGrace = 4 * time.Second

// runDaemon builds every part of civicd, runs it until ctx ends, then shuts
// it down in reverse order. ready, when not nil, receives the console's
// address once it listens (tests use it).
func runDaemon(ctx context.Context, cfg *configs.Config, environ []string, stdout, stderr io.Writer, ready chan<- string) error {
	logger := newLogger(cfg, stderr)
	logger.Info("civicd starting", "version", version, "data_dir", cfg.DataDir)
	for _, name := range configs.UnknownEnv(environ) {
		logger.Warn("ignoring unknown environment variable; is it misspelled?", "name", name)
	}

	st, err := store.Open(ctx, cfg.DataDir, logger.With("module", "store"))
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("data dir %s is in use by another civicd: %w", cfg.DataDir, err)
		}
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("close store", "err", err)
		}
	}()

	mods := newModuleTable()
	mods.set("store", "running", st.Path())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "civic_events_dropped_total", Help: "Events dropped for slow subscribers, by topic.",
	}, []string{"topic"})
	reg.MustRegister(dropped)

	bus := events.New(events.Options{OnDrop: func(t events.Topic) { dropped.WithLabelValues(string(t)).Inc() }})
	defer bus.Close()
	mods.set("events", "running", "")

	auditLog := audit.New(st.DB(), func(e audit.Entry) { bus.Publish(webui.AuditEvent{Entry: e}) })
	accounts := auth.New(st.DB(), auth.Options{
		SessionTTL:           cfg.HTTP.SessionTTL,
		MaxFailuresPerUser:   cfg.HTTP.Login.MaxFailuresPerUser,
		MaxFailuresPerSource: cfg.HTTP.Login.MaxFailuresPerSource,
		FailureWindow:        cfg.HTTP.Login.Window,
		Lockout:              cfg.HTTP.Login.Lockout,
	})
	if err := firstRun(ctx, accounts, auditLog, environ, stdout); err != nil {
		return err
	}

	engine, err := rtc.New(rtcConfig(cfg), logger.With("module", "webrtc"))
	if err != nil {
		return err
	}
	defer engine.Close()
	meetings := conference.New(conference.Config{
		MaxParticipants:      cfg.Meetings.MaxParticipants,
		MaxParticipantsTotal: cfg.Meetings.MaxParticipantsTotal,
		MaxTracks:            cfg.Meetings.MaxTracks,
		DialInPrefix:         cfg.Meetings.DialInPrefix,
	}, st.DB(), engine, bus, logger.With("module", "conference"))
	mods.set("conference", "running", "udp "+engine.UDPAddr())

	phones, err := voip.New(voipConfig(cfg), st.DB(), bus, auditLog, logger.With("module", "voip"))
	if err != nil {
		return err
	}
	defer func() { _ = phones.Shutdown(context.Background()) }() // closes its sockets if a later step fails
	mods.set("voip", "starting", sipDetail(phones))

	bridge, err := confbridge.Start(confbridge.Config{Meetings: phoneMeetings{c: meetings, log: logger.With("module", "bridge")}, NameOf: phones.ExtensionName,
		OnPINFailed: pinAudit(auditLog), SIPAddr: loopbackOf(phones.Addr()), Domain: phones.Domain(),
		ConsoleCaller: phones.ExtensionOfUser, OnDTMF: func(room, participant, _ string, digit rune) { meetings.PhoneKey(room, participant, digit) }}, logger.With("module", "bridge"))
	if err != nil {
		return err
	}
	defer bridge.Close()
	phones.SetBridge(bridge)

	doors, err := building.New(building.Config{Location: cfg.Location()}, st.DB(), bus, auditLog, logger.With("module", "building"))
	if err != nil {
		return err
	}
	bld, err := newBuilding(cfg, doors, logger)
	if err != nil {
		return err
	}
	mods.set("building", "starting", "mqtt "+bld.mqttDetail())

	camCfg := camerasConfig(cfg, engine)
	camCfg.OnRemoved = func(ctx context.Context, id string) {
		if err := doors.Unplace(ctx, building.PlaceCamera, id); err != nil && !errors.Is(err, building.ErrNotFound) {
			logger.Error("take a removed camera off its floor plan", "camera", id, "err", err)
		}
	}
	cams, err := cameras.New(ctx, camCfg, st.DB(), bus, doors, logger.With("module", "cameras"))
	if err != nil {
		return err
	}

	console, err := webui.New(webui.Options{
		Listen:          cfg.HTTP.Listen,
		TLS:             cfg.HTTP.TLS,
		CertFile:        cfg.HTTP.CertFile,
		KeyFile:         cfg.HTTP.KeyFile,
		Hostnames:       cfg.HTTP.Hostnames,
		AllowedOrigins:  cfg.HTTP.AllowedOrigins,
		StaticDir:       cfg.HTTP.StaticDir,
		DataDir:         cfg.DataDir,
		SessionTTL:      cfg.HTTP.SessionTTL,
		MaxMessageBytes: int64(cfg.WS.MaxMessageBytes),
		Rate:            cfg.WS.Rate,
		Burst:           cfg.WS.Burst,
		Version:         version,
	}, webui.Deps{
		Auth:       accounts,
		Audit:      auditLog,
		Bus:        bus,
		Metrics:    reg,
		Modules:    mods.list,
		Conference: meetings,
		Phones:     phones,
		Building:   doors,
		Cameras:    cams,
		Bridge:     bridge,
		Softphone:  bridge,
		ICEServers: engine.ICEServers,
	}, logger.With("module", "console"))
	if err != nil {
		return err
	}
	mods.setOnChange(console.PublishStatus)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	mods.set("console", "starting", cfg.HTTP.Listen)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := console.Run(runCtx); err != nil {
			mods.set("console", "failed", err.Error())
			errc <- err
			cancel()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		mods.set("voip", "running", sipDetail(phones))
		if err := phones.Run(runCtx); err != nil {
			mods.set("voip", "failed", err.Error())
			select {
			case errc <- err:
			default:
			}
			cancel()
		}
	}()
	runBuilding(runCtx, &wg, mods, bld, errc, cancel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		mods.set("cameras", "running", fmt.Sprintf("%d cameras", len(cams.List())))
		cams.Run(runCtx)
	}()
	station := &doorStation{doors: doors, phones: phones, accounts: accounts, log: logger.With("module", "doorstation")}
	wg.Add(1)
	go func() {
		defer wg.Done()
		station.run(runCtx, bus)
	}()
	go func() {
		select {
		case <-console.Ready():
			mods.set("console", "running", console.Addr())
			if ready != nil {
				ready <- console.Addr()
			}
		case <-runCtx.Done():
		}
	}()

	<-runCtx.Done()
	logger.Info("civicd shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	var shutdownErr error
	if err := console.Shutdown(sctx); err != nil {
		shutdownErr = err
		logger.Error("shutdown console", "err", err)
	}
	bridge.Close() // its phones get their BYE while the SIP side still runs
	if err := phones.Shutdown(sctx); err != nil {
		logger.Error("shutdown voip", "err", err)
	}
	bld.shutdown(sctx, logger)
	if err := meetings.Shutdown(sctx); err != nil {
		logger.Error("shutdown conference", "err", err)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	logger.Info("civicd stopped")
	return shutdownErr
}

// rtcConfig maps the webrtc config keys to the engine. A deployment whose
// only interface is "lo" is loopback-only: candidates and packets stay on
// 127.0.0.1 (tests use it).
func rtcConfig(cfg *configs.Config) rtc.Config {
	rc := rtc.Config{
		UDPPort:    cfg.WebRTC.UDPPort,
		TCPPort:    cfg.WebRTC.TCPPort,
		PublicIP:   cfg.WebRTC.PublicIP,
		Interfaces: cfg.WebRTC.Interfaces,
	}
	if len(cfg.WebRTC.Interfaces) == 1 && cfg.WebRTC.Interfaces[0] == "lo" {
		rc.Host, rc.LoopbackOnly = "127.0.0.1", true
	}
	for _, s := range cfg.WebRTC.ICEServers {
		rc.ICEServers = append(rc.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return rc
}

// voipConfig maps the sip config keys to the SIP service. Without a
// certificate of its own, SIP over TLS reuses the console's files.
func voipConfig(cfg *configs.Config) voip.Config {
	c := voip.Config{
		Listen:                  cfg.SIP.Listen,
		TLSListen:               cfg.SIP.TLSListen,
		CertFile:                cfg.SIP.CertFile,
		KeyFile:                 cfg.SIP.KeyFile,
		Domain:                  cfg.SIP.Domain,
		MinExpires:              cfg.SIP.RegisterMinExpires,
		MaxExpires:              cfg.SIP.RegisterMaxExpires,
		QualifyInterval:         cfg.SIP.QualifyInterval,
		QualifyMisses:           cfg.SIP.QualifyMisses,
		DigestAlgorithms:        cfg.SIP.DigestAlgorithms,
		MaxFailuresPerSource:    cfg.SIP.Auth.MaxFailuresPerSource,
		MaxFailuresPerExtension: cfg.SIP.Auth.MaxFailuresPerExtension,
		MaxRequestsPerSource:    cfg.SIP.Auth.MaxRequestsPerSource,
		BlockFor:                cfg.SIP.Auth.BlockFor,
		MediaAddress:            cfg.SIP.MediaAddress,
		RingTimeout:             cfg.SIP.RingTimeout,
	}
	if c.MaxRequestsPerSource == 0 {
		c.MaxRequestsPerSource = -1 // sip.auth.max_requests_per_source: 0 is no limit
	}
	// Validated with the config: a bad range never gets here.
	c.RTPPortLow, c.RTPPortHigh, _ = cfg.SIP.RTPPortRange()
	if c.CertFile == "" && cfg.HTTP.TLS == configs.TLSFiles {
		c.CertFile, c.KeyFile = cfg.HTTP.CertFile, cfg.HTTP.KeyFile
	}
	return c
}

// sipDetail is the voip line of system.status: where SIP listens.
func sipDetail(s *voip.Service) string {
	d := "udp+tcp " + s.Addr()
	if a := s.TLSAddr(); a != "" {
		d += ", tls " + a
	}
	return d + ", domain " + s.Domain()
}

// firstRun creates the admin account when the store has no users. The
// password comes from CIVIC_ADMIN_PASSWORD, or is generated and printed
// once to stdout (never to the log).
func firstRun(ctx context.Context, accounts *auth.Service, auditLog *audit.Log, environ []string, stdout io.Writer) error {
	created, generated, err := accounts.EnsureAdmin(ctx, lookupEnv(environ, "CIVIC_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("first run: create admin: %w", err)
	}
	if !created {
		return nil
	}
	detail := "password from CIVIC_ADMIN_PASSWORD"
	if generated != "" {
		detail = "password generated"
		fmt.Fprintf(stdout, "\n  First run: created the console user \"admin\" with password\n\n      %s\n\n  It is shown only this once. Sign in and change it.\n\n", generated)
	}
	if err := auditLog.Append(ctx, audit.Entry{User: "civicd", Role: "system", Action: "users.create", Target: "admin", Result: audit.ResultOK, Detail: "first run; " + detail}); err != nil {
		return fmt.Errorf("first run: audit: %w", err)
	}
	return nil
}

func lookupEnv(environ []string, key string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// newLogger builds the process logger from log.level and log.format.
func newLogger(cfg *configs.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// moduleTable holds the state of each module for system.status and
// publishes a system event when one changes.
type moduleTable struct {
	mu       sync.Mutex
	order    []string
	state    map[string]webui.ModuleStatus
	onChange func()
}

func newModuleTable() *moduleTable {
	return &moduleTable{state: make(map[string]webui.ModuleStatus)}
}

// setOnChange sets the function called after every change.
func (m *moduleTable) setOnChange(f func()) {
	m.mu.Lock()
	m.onChange = f
	m.mu.Unlock()
}

func (m *moduleTable) set(name, state, detail string) {
	m.mu.Lock()
	if _, ok := m.state[name]; !ok {
		m.order = append(m.order, name)
	}
	m.state[name] = webui.ModuleStatus{Name: name, State: state, Detail: detail}
	notify := m.onChange
	m.mu.Unlock()
	if notify != nil {
		notify()
	}
}

func (m *moduleTable) list() []webui.ModuleStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]webui.ModuleStatus, 0, len(m.order))
	for _, n := range m.order {
		out = append(out, m.state[n])
	}
	return out
}
