package e2e

import (
	"testing"

	"civic/internal/phonetest"
)

// deskPhone is a real desk phone: baresip with no sound card (TESTING.md
// section 2), registered to the daemon and driven over its ctrl_tcp
// socket (see internal/phonetest).
type deskPhone struct{ *phonetest.Phone }

// lookBaresip finds baresip; it skips the test when baresip is missing,
// except under CI=true, where that fails.
func lookBaresip(t *testing.T) string { return phonetest.Lookup(t) }

// startDeskPhone starts baresip registering extension ext with password
// at the daemon's SIP address sipAddr, over UDP with PCMU. With autoAnswer
// it picks up incoming calls at once. It stops when the test ends.
func startDeskPhone(t *testing.T, _, sipAddr, ext, password string, autoAnswer bool) *deskPhone {
	t.Helper()
	return &deskPhone{phonetest.Start(t, sipAddr, ext, password, phonetest.Options{AutoAnswer: autoAnswer})}
}

// command sends one ctrl_tcp command, such as dial with a SIP URI.
func (p *deskPhone) command(t *testing.T, name, params string) {
	t.Helper()
	if err := p.Command(name, params); err != nil {
		t.Fatalf("baresip %s %s: %v", p.Ext, name, err)
	}
}

// waitEvent waits until the phone reports an event of type typ.
func (p *deskPhone) waitEvent(t *testing.T, typ string) {
	t.Helper()
	p.WaitEvent(t, typ, stepTimeout)
}
