// Command civicsim simulates a building's door controllers for demos,
// tests and benchmarks: `civicsim building` connects one MQTT client per
// controller to a broker (civicd's embedded one, or any other) and speaks
// protocol v1 (docs/devices-mqtt.md): status with a will, heartbeats,
// door states, card swipes waiting for decisions, and acknowledged
// commands, with each controller's fail-secure or fail-safe setting. It
// prints one JSON line per event on standard output and takes control
// commands on standard input.
//
// It is a separate program, never linked into civicd; it imports only
// the protocol package building/mqttlink/wire.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usageHead = `civicsim simulates door controllers over MQTT (protocol v1, docs/devices-mqtt.md).

Usage:
  civicsim building --broker mqtt://127.0.0.1:1883 --config sim.yaml
  civicsim building --broker mqtt://127.0.0.1:1883 --controllers 50 --doors 10 \
      --password 'secret-{id}' --cards 1001,1002 --swipes-per-sec 200

With --controllers N, controller K is "cK", its doors "cK-dJ" and their
readers "cK-dJ-in" and "cK-dJ-out". Every event is printed as one JSON
line on standard output: start, connected, connect_failed, disconnected,
all_connected, heartbeat, swipe, decision, decision_timeout, door,
command, ack, fail_mode, published, publish_refused, subscribed,
subscribe_refused, control, error, quit.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usageHead+"  (see civicsim building --help)\n\n"+controlHelp+"\n"+configHelp)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "building" {
		fmt.Fprintf(stderr, "civicsim: unknown command %q (want building)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("civicsim building", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		broker    = fs.String("broker", "", "broker URL, mqtt://host:port or mqtts://host:port (default: the config's, else mqtt://127.0.0.1:1883)")
		cfgPath   = fs.String("config", "", "config file (YAML; see below)")
		nCtrl     = fs.Int("controllers", 0, "generate this many controllers (instead of the config's)")
		nDoors    = fs.Int("doors", 1, "doors per generated controller")
		password  = fs.String("password", "secret-{id}", "password of generated controllers; {id} is the controller id")
		failMode  = fs.String("fail-mode", "secure", "fail mode of generated controllers: secure or safe")
		unlockS   = fs.Int("unlock-s", 5, "unlock time of generated doors, seconds")
		heartbeat = fs.Duration("heartbeat", 0, "heartbeat interval (default: the config's, else 10s)")
		decision  = fs.Duration("decision-timeout", 0, "wait this long for a decision before applying fail_mode (default 2s)")
		rate      = fs.Float64("swipes-per-sec", 0, "random swipes per second over every reader (default: the config's, else none)")
		cards     = fs.String("cards", "", "comma-separated cards for random swipes (default: the config's, else 1001)")
		duration  = fs.Duration("duration", 0, "exit after this long (default: run until quit or a signal)")
		seed      = fs.Uint64("seed", 0, "random seed (default: random)")
		caFile    = fs.String("ca", "", "PEM file of CA certificates to trust for mqtts")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+controlHelp+"\n"+configHelp)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "civicsim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	var cfg simConfig
	if *cfgPath != "" {
		var err error
		if cfg, err = loadConfig(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "civicsim: %v\n", err)
			return 2
		}
	}
	if *nCtrl > 0 {
		if len(cfg.Controllers) > 0 {
			fmt.Fprintln(stderr, "civicsim: use --controllers or the config's controllers, not both")
			return 2
		}
		if *nDoors < 0 {
			fmt.Fprintln(stderr, "civicsim: --doors is negative")
			return 2
		}
		cfg.Controllers = generate(*nCtrl, *nDoors, *password, *failMode, *unlockS)
	}
	if *broker != "" {
		cfg.Broker = *broker
	}
	if cfg.Broker == "" {
		cfg.Broker = "mqtt://127.0.0.1:1883"
	}
	if *heartbeat > 0 {
		cfg.Heartbeat = *heartbeat
		for i := range cfg.Controllers {
			cfg.Controllers[i].Heartbeat = *heartbeat
		}
	}
	if *decision > 0 {
		cfg.DecisionTimeout = *decision
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "swipes-per-sec" {
			cfg.SwipesPerSec = *rate
		}
	})
	if *cards != "" {
		cfg.Cards = strings.Split(*cards, ",")
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintf(stderr, "civicsim: %v\n", err)
		return 2
	}
	u, err := url.Parse(cfg.Broker)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "civicsim: broker %q is not a URL such as mqtt://127.0.0.1:1883\n", cfg.Broker)
		return 2
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "civicsim: %v\n", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "civicsim: %s holds no PEM certificates\n", *caFile)
			return 2
		}
		tlsConf.RootCAs = pool
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	s := newSim(cfg, u, tlsConf, stdout, *seed)
	if err := s.run(ctx, stdin); err != nil {
		fmt.Fprintf(stderr, "civicsim: %v\n", err)
		return 1
	}
	return 0
}
