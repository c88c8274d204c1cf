package rtsptest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind: a
// closed Server must have stopped its sources and connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
