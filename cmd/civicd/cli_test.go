package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"civic/internal/audit"
	"civic/internal/store"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runCLI runs civicd in-process and returns the exit code and output.
func runCLI(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, env, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	env := []string{"CIVIC_DATA_DIR=" + dir}

	code, out, errOut := runCLI(t, env, "", "user", "add", "duty1", "--role", "facilities", "--display-name", "Duty desk")
	if code != 0 || !strings.Contains(out, "created user duty1 (facilities)") || !strings.Contains(out, "password: ") {
		t.Fatalf("user add: %d %q %q", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, env, "", "user", "add", "duty1", "--role", "facilities"); code == 0 {
		t.Fatal("adding a taken username succeeded")
	} else if !strings.Contains(errOut, "taken") {
		t.Errorf("duplicate add error %q does not say the name is taken", errOut)
	}
	if code, _, _ = runCLI(t, env, "", "user", "add", "x2", "--role", "mayor"); code != 2 {
		t.Errorf("bad role: exit %d, want 2", code)
	}
	code, out, errOut = runCLI(t, env, "new-password-42\n", "user", "passwd", "duty1", "--password-stdin")
	if code != 0 || strings.Contains(out, "new-password-42") {
		t.Fatalf("user passwd: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "", "user", "list")
	if code != 0 || !strings.Contains(out, "duty1") || !strings.Contains(out, "facilities") || !strings.Contains(out, "Duty desk") {
		t.Fatalf("user list: %d %q", code, out)
	}

	st, err := store.OpenShared(context.Background(), dir, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, _, err := audit.New(st.DB(), nil).List(context.Background(), audit.Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+":"+e.Result)
	}
	got := strings.Join(actions, ",")
	if want := "users.reset_password:ok,users.create:failed,users.create:ok"; got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
}

func TestConfigCheck(t *testing.T) {
	code, out, _ := runCLI(t, nil, "", "config", "check")
	if code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("default config check: %d %q", code, out)
	}
	code, _, errOut := runCLI(t, []string{"CIVIC_WEBRTC_UDP_PORT=70000"}, "", "config", "check")
	if code != 1 || !strings.Contains(errOut, "webrtc.udp_port") || !strings.Contains(errOut, "70000") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("bad port: %d %q", code, errOut)
	}
}

func TestBackupRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	env := []string{"CIVIC_DATA_DIR=" + dir}
	if code, _, errOut := runCLI(t, env, "", "user", "add", "clerk", "--role", "official"); code != 0 {
		t.Fatal(errOut)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, _, errOut := runCLI(t, env, "", "backup", backup); code != 0 {
		t.Fatalf("backup: %s", errOut)
	}
	if code, _, _ := runCLI(t, env, "", "backup", backup); code == 0 {
		t.Error("backup overwrote an existing file")
	}
	if code, _, errOut := runCLI(t, env, "", "user", "add", "later", "--role", "official"); code != 0 {
		t.Fatal(errOut)
	}

	// A running daemon (holding the lock) blocks restore.
	held, err := store.Open(context.Background(), dir, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, env, "", "restore", backup)
	held.Close()
	if code == 0 || !strings.Contains(errOut, "in use") {
		t.Fatalf("restore while running: %d %q", code, errOut)
	}

	if code, _, errOut := runCLI(t, env, "", "restore", backup); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	_, out, _ := runCLI(t, env, "", "user", "list")
	if !strings.Contains(out, "clerk") || strings.Contains(out, "later") {
		t.Fatalf("after restore the users are %q, want clerk and not later", out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "civicd ") {
		t.Fatalf("version: %d %q", code, out)
	}
}
