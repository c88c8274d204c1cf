package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDeps keeps test-only packages out of the civicd binary, and
// checks it stays free of cgo-only dependencies it must not need.
func TestBinaryDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	forbidden := []string{"testing", "civic/internal/rtc/rtctest", "go.uber.org/goleak", "github.com/chromedp/chromedp", "github.com/mattn/go-sqlite3"}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f {
				t.Errorf("civicd depends on %s", f)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list returned only %d packages", len(deps))
	}
}
