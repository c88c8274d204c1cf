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
	pos, ok := parseSub("backup", &g, args, stderr, nil)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: civicd backup FILE")
		return 2
	}
	cfg, err := loadConfig(g, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := store.Backup(context.Background(), cfg.DataDir, pos[0]); err != nil {
		fmt.Fprintln(stderr, "civicd backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup of %s written to %s\n", cfg.DataDir, pos[0])
	return 0
}

// restoreCommand replaces the store with a backup. It refuses while a
// daemon holds the data dir.
func restoreCommand(g globalFlags, args, environ []string, stdout, stderr io.Writer) int {
	pos, ok := parseSub("restore", &g, args, stderr, nil)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: civicd restore FILE")
		return 2
	}
	cfg, err := loadConfig(g, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := store.Restore(context.Background(), cfg.DataDir, pos[0]); err != nil {
		fmt.Fprintln(stderr, "civicd restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s from %s; start civicd to use it\n", cfg.DataDir, pos[0])
	return 0
}
