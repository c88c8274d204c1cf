package webui

import (
	"testing"

	"civic/internal/auth"
)

// TestDialInShown: the host who creates a meeting and everyone who joins
// it get its dial-in number (the prefix and the room) and PIN; the
// meetings list, which every official sees, does not carry them.
func TestDialInShown(t *testing.T) {
	ts := newTestServer(t)
	host := ts.connect(ts.login(auth.RoleOfficial))
	created := host.request(TypeConferenceCreate, map[string]any{"title": "Dial-in"})
	r := created["result"].(map[string]any)
	room := r["meeting"].(map[string]any)["room"].(string)
	d, _ := r["dial_in"].(map[string]any)
	pin, _ := d["pin"].(string)
	if d["number"] != "8"+room || len(pin) != 6 {
		t.Fatalf("create: dial_in %v", r["dial_in"])
	}
	joined := host.request(TypeConferenceJoin, map[string]any{"room": room})
	jd, _ := joined["result"].(map[string]any)["dial_in"].(map[string]any)
	if jd["number"] != "8"+room || jd["pin"] != pin {
		t.Fatalf("join: dial_in %v, want the create's %v", jd, d)
	}
	list := ts.connect(ts.login(auth.RoleAdmin)).request(TypeConferenceList, nil)
	for _, m := range list["result"].(map[string]any)["meetings"].([]any) {
		if _, ok := m.(map[string]any)["dial_in"]; ok {
			t.Fatal("the meetings list carries a dial-in PIN")
		}
	}
}
