package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// TestConsoleJSUnits runs the unit tests of the console's JavaScript
// modules (testdata/js) with Node's built-in test runner: the websocket
// client's auth, reconnect, backoff, resubscribe and ping handling against a
// fake socket and fake timers, the dictionaries, and the views' pure
// functions. It is skipped when node is not installed, except under CI=true, where
// that fails.
func TestConsoleJSUnits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; scripts/test.sh installs it (Debian package nodejs)")
		}
		t.Skip("node is not installed; skipping the console's JavaScript unit tests")
	}
	out, err := exec.Command(node, "--test", "--test-reporter=dot", "testdata/js/").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("node --test:\n%s", out)
}
