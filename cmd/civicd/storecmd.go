package main

import (
	"context"
	"fmt"
	"io"

	"civic/internal/store"
)

// backupCommand writes a consistent copy of the store, also while the
// daemon runs.
func backupCommand(g globalFlags, args, environ []string, stdout, stderr io.Writer) int {
	return fileCommand("backup", g, args, environ, stdout, stderr, store.Backup, "backup of %s written to %s\n")
}

// restoreCommand replaces the store with a backup. It refuses while a
// daemon holds the data dir.
func restoreCommand(g globalFlags, args, environ []string, stdout, stderr io.Writer) int {
	return fileCommand("restore", g, args, environ, stdout, stderr, store.Restore, "restored %s from %s; start civicd to use it\n")
}

// fileCommand runs a store operation that takes the data dir and one file.
func fileCommand(name string, g globalFlags, args, environ []string, stdout, stderr io.Writer,
	op func(ctx context.Context, dataDir, file string) error, done string) int {
	pos, ok := parseSub(name, &g, args, stderr, nil)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "usage: civicd %s FILE\n", name)
		return 2
	}
	cfg, err := loadConfig(g, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := op(context.Background(), cfg.DataDir, pos[0]); err != nil {
		fmt.Fprintf(stderr, "civicd %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stdout, done, cfg.DataDir, pos[0])
	return 0
}
