package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"io"
	mrand "math/rand/v2"
	"net/url"
	"sync"
	"time"
)

// sim is a building: controllers, their doors and readers, the random
// swipe generator, the script and the control channel.
type sim struct {
	cfg    simConfig
	broker *url.URL
	tls    *tls.Config
	out    *printer
	boot   string // prefix of message ids, fresh per run

	ctrls     []*controller
	byID      map[string]*controller
	doorOwner map[string]*controller

	rngMu sync.Mutex
	rng   *mrand.Rand

	firstMu   sync.Mutex
	firstSeen map[string]bool
	allUp     chan struct{} // closed once every controller connected once

	quit     chan struct{}
	quitOnce sync.Once
}

func newSim(cfg simConfig, broker *url.URL, tlsConf *tls.Config, out io.Writer, seed uint64) *sim {
	var b [3]byte
	_, _ = rand.Read(b[:])
	if seed == 0 {
		var sb [8]byte
		_, _ = rand.Read(sb[:])
		for _, x := range sb {
			seed = seed<<8 | uint64(x)
		}
	}
	s := &sim{
		cfg:       cfg,
		broker:    broker,
		tls:       tlsConf,
		out:       newPrinter(out),
		boot:      hex.EncodeToString(b[:]),
		byID:      make(map[string]*controller),
		doorOwner: make(map[string]*controller),
		rng:       mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		firstSeen: make(map[string]bool),
		allUp:     make(chan struct{}),
		quit:      make(chan struct{}),
	}
	for _, cc := range cfg.Controllers {
		c := newController(s, cc)
		s.ctrls = append(s.ctrls, c)
		s.byID[cc.ID] = c
		for _, d := range cc.Doors {
			s.doorOwner[d.ID] = c
		}
	}
	return s
}

// run connects every controller, then serves the control channel (in),
// random swipes and the script until ctx ends or quit is given.
func (s *sim) run(ctx context.Context, in io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	doors := 0
	for _, c := range s.ctrls {
		doors += len(c.order)
	}
	s.out.emit("start", "broker", s.broker.Redacted(), "controllers", len(s.ctrls), "doors", doors, "id_prefix", s.boot)
	for _, c := range s.ctrls {
		if err := c.start(ctx); err != nil {
			return err
		}
	}
	if in != nil {
		go s.readControl(ctx, in)
	}
	if s.cfg.SwipesPerSec > 0 {
		go s.randomSwipes(ctx)
	}
	if len(s.cfg.Script) > 0 {
		go s.runScript(ctx)
	}
	select {
	case <-ctx.Done():
	case <-s.quit:
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopCancel()
	var wg sync.WaitGroup
	for _, c := range s.ctrls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop(stopCtx)
		}()
	}
	wg.Wait()
	s.out.emit("quit")
	return nil
}

func (s *sim) stop() { s.quitOnce.Do(func() { close(s.quit) }) }

// firstConnect notes that c connected; once all have, the script starts.
func (s *sim) firstConnect(c *controller) {
	s.firstMu.Lock()
	defer s.firstMu.Unlock()
	if s.firstSeen[c.cfg.ID] {
		return
	}
	s.firstSeen[c.cfg.ID] = true
	if len(s.firstSeen) == len(s.ctrls) {
		close(s.allUp)
		s.out.emit("all_connected", "controllers", len(s.ctrls))
	}
}

// readControl executes one control command per line of in. At the end
// of in the simulator goes on running (until quit, a signal or
// --duration).
func (s *sim) readControl(ctx context.Context, in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		s.execLine(ctx, sc.Text())
	}
}

// execLine runs one control command and prints its outcome.
func (s *sim) execLine(ctx context.Context, line string) {
	if err := s.exec(ctx, line); err != nil {
		s.out.emit("error", "line", line, "error", err)
		return
	}
	s.out.emit("control", "line", line)
}

// runScript runs the config's script, timed from when every controller
// first connected (or 10 s after the start, whichever is first).
func (s *sim) runScript(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-s.allUp:
	case <-time.After(10 * time.Second):
	}
	start := time.Now()
	for _, step := range s.cfg.Script {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(step.At))):
		}
		s.execLine(ctx, step.Do)
	}
	s.out.emit("script_done", "steps", len(s.cfg.Script))
}

// randomSwipes presents a random card at a random reader of a connected
// controller, swipes_per_sec times a second.
func (s *sim) randomSwipes(ctx context.Context) {
	type target struct {
		c      *controller
		reader string
	}
	var targets []target
	for _, c := range s.ctrls {
		for _, d := range c.order {
			for _, r := range d.cfg.Readers {
				targets = append(targets, target{c, r.ID})
			}
		}
	}
	cards := s.cfg.Cards
	if len(cards) == 0 {
		cards = []string{"1001"}
	}
	if len(targets) == 0 {
		s.out.emit("error", "error", "random swipes: no readers")
		return
	}
	interval := time.Duration(float64(time.Second) / s.cfg.SwipesPerSec)
	next := time.Now()
	for {
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		s.rngMu.Lock()
		t := targets[s.rng.IntN(len(targets))]
		card := cards[s.rng.IntN(len(cards))]
		s.rngMu.Unlock()
		if !t.c.up.Load() {
			continue
		}
		go func() { _ = t.c.swipe(ctx, t.reader, card, "") }()
	}
}
