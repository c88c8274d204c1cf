package webui

import (
	"testing"
	"time"

	"civic/internal/auth"
)

// TestScheduledMeetingWithCoHosts: conference.create checks the scheduled
// time and that co-hosts are officials or admins; a co-host sees the
// meeting in conference.list {mine}, joins it as a host, and may end it.
func TestScheduledMeetingWithCoHosts(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	for name, params := range map[string]map[string]any{
		"past":          {"title": "Old", "scheduled_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
		"not a time":    {"title": "Odd", "scheduled_at": "tomorrow at nine"},
		"unknown user":  {"title": "Who", "co_hosts": []string{"nobody"}},
		"facilities":    {"title": "Guard", "co_hosts": []string{"u-facilities"}},
		"two years out": {"title": "Far", "scheduled_at": time.Now().Add(2 * 365 * 24 * time.Hour).Format(time.RFC3339)},
	} {
		if code := errCode(admin.request(TypeConferenceCreate, params)); code != CodeInvalidParams {
			t.Errorf("%s: %q, want invalid_params", name, code)
		}
	}
	r := admin.request(TypeConferenceCreate, map[string]any{"title": "Planning", "scheduled_at": tomorrow.Format(time.RFC3339), "co_hosts": []string{"U-Official", "u-admin"}})
	if r["success"] != true {
		t.Fatalf("create: %v", r)
	}
	m := r["result"].(map[string]any)["meeting"].(map[string]any)
	if got, _ := time.Parse(time.RFC3339, m["scheduled_at"].(string)); !got.Equal(tomorrow) {
		t.Fatalf("scheduled_at %v, want %v", m["scheduled_at"], tomorrow)
	}
	if co := m["co_hosts"].([]any); len(co) != 1 || co[0] != "u-official" {
		t.Fatalf("co_hosts %v, want [u-official] as stored", co)
	}
	admin.request(TypeConferenceCreate, map[string]any{"title": "Someone else's"})

	official := ts.connect(ts.login(auth.RoleOfficial))
	mine := official.request(TypeConferenceList, map[string]any{"mine": true})["result"].(map[string]any)["meetings"].([]any)
	if len(mine) != 1 || mine[0].(map[string]any)["room"] != m["room"] {
		t.Fatalf("the co-host's meetings: %v, want just the one", mine)
	}
	if all := official.request(TypeConferenceList, nil)["result"].(map[string]any)["meetings"].([]any); len(all) != 2 {
		t.Fatalf("all meetings: %d, want 2", len(all))
	}
	j := official.request(TypeConferenceJoin, map[string]any{"room": m["room"]})
	if j["result"].(map[string]any)["host"] != true {
		t.Fatalf("the co-host joins as %v, want a host", j)
	}
	if r := official.request(TypeConferenceEnd, map[string]any{"room": m["room"]}); r["success"] != true {
		t.Fatalf("the co-host ends the meeting: %v", r)
	}
}
