// Command civicd is the Civic daemon: the console, meetings, phones and
// building security of a city's administrative center in one process.
//
// main only wires: it loads the config, builds the core services and the
// modules in order, runs them, and shuts them down in reverse order. The
// subcommands (user, config, backup, restore, version) are small tools for
// operators; see docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // timezone works on hosts without zoneinfo files

	"civic/configs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// usageText is printed for -h and for an unknown command.
const usageText = `usage: civicd [--config FILE] [--data-dir DIR] [command]

commands:
  (none)                       run the daemon
  user add NAME --role ROLE    add a console user (admin, official, facilities)
  user passwd NAME             set a user's password
  user list                    list console users
  config check                 validate the config and exit
  backup FILE                  write a consistent copy of the store to FILE
  restore FILE                 replace the store with FILE (daemon must be stopped)
  version                      print the version

Passwords for "user add" and "user passwd" are read from the first line of
standard input when --password-stdin is given; otherwise a random one is
generated and printed once.
`

// globalFlags are accepted before the command and by every command.
type globalFlags struct {
	config  string
	dataDir string
}

func (g *globalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.config, "config", g.config, "config `FILE` (default configs/civicd.yaml if it exists, else built-in defaults)")
	fs.StringVar(&g.dataDir, "data-dir", g.dataDir, "data `DIR`; overrides data_dir in the config")
}

// run is main without the process: it returns the exit code.
func run(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var g globalFlags
	fs := flag.NewFlagSet("civicd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	cmd := ""
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "", "serve":
		return serveCommand(g, rest, environ, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "config":
		return configCommand(g, rest, environ, stdout, stderr)
	case "user":
		return userCommand(g, rest, environ, stdin, stdout, stderr)
	case "backup":
		return backupCommand(g, rest, environ, stdout, stderr)
	case "restore":
		return restoreCommand(g, rest, environ, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "civicd: unknown command %q\n\n%s", cmd, usageText)
		return 2
	}
}

// loadConfig loads the config file (the default path only if it exists)
// with the environment overrides and the --data-dir flag applied.
func loadConfig(g globalFlags, environ []string) (*configs.Config, error) {
	path := g.config
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		}
	}
	cfg, err := configs.LoadWithEnv(path, environ)
	if err != nil {
		return nil, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	return cfg, nil
}

const defaultConfigPath = "configs/civicd.yaml"

// parseSub parses a subcommand's flags, accepting the global flags too.
func parseSub(name string, g *globalFlags, args []string, stderr io.Writer, define func(*flag.FlagSet)) ([]string, bool) {
	fs := flag.NewFlagSet("civicd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	if define != nil {
		define(fs)
	}
	// Allow flags after positional arguments: civicd user add bob --role official.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return pos, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func configCommand(g globalFlags, args, environ []string, stdout, stderr io.Writer) int {
	pos, ok := parseSub("config", &g, args, stderr, nil)
	if !ok {
		return 2
	}
	if len(pos) != 1 || pos[0] != "check" {
		fmt.Fprintln(stderr, "usage: civicd config check [--config FILE]")
		return 2
	}
	if _, err := loadConfig(g, environ); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	src := g.config
	if src == "" {
		src = "built-in defaults"
		if _, err := os.Stat(defaultConfigPath); err == nil {
			src = defaultConfigPath
		}
	}
	fmt.Fprintf(stdout, "config OK (%s)\n", src)
	return 0
}

func serveCommand(g globalFlags, args, environ []string, stdout, stderr io.Writer) int {
	if _, ok := parseSub("serve", &g, args, stderr, nil); !ok {
		return 2
	}
	cfg, err := loadConfig(g, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// The first signal starts a graceful shutdown; a second one forces the
	// exit. One channel receives both, so no signal falls between two
	// handlers and gets the default action.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig := <-sigs
		fmt.Fprintf(stderr, "civicd: %v; shutting down (send it again to exit now)\n", sig)
		cancel()
		<-sigs
		fmt.Fprintln(stderr, "civicd: second signal; exiting now")
		os.Exit(1)
	}()
	if err := runDaemon(ctx, cfg, environ, stdout, stderr, nil); err != nil {
		fmt.Fprintln(stderr, "civicd:", err)
		return 1
	}
	return 0
}

// versionString names the version, the Go toolchain and the key libraries.
func versionString() string {
	s := fmt.Sprintf("civicd %s (%s %s/%s)", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/pion/webrtc/v4", "github.com/emiago/sipgo", "github.com/gorilla/websocket", "github.com/spf13/viper", "modernc.org/sqlite":
				s += fmt.Sprintf("\n  %s %s", d.Path, d.Version)
			}
		}
	}
	return s
}
