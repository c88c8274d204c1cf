package webui

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"civic/internal/audit"
	"civic/internal/auth"
)

func TestLoginHTTP(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"right password", "application/json", `{"username":"u-admin","password":"password-admin"}`, 200, ""},
		{"wrong password", "application/json", `{"username":"u-admin","password":"nope-nope"}`, 401, CodeAuthFailed},
		{"unknown user", "application/json", `{"username":"ghost","password":"nope-nope"}`, 401, CodeAuthFailed},
		{"not JSON", "application/json", `username=u-admin`, 400, CodeInvalidFormat},
		{"form post", "application/x-www-form-urlencoded", `username=u-admin&password=x`, 415, CodeInvalidFormat},
		{"huge body", "application/json", `{"username":"u-admin","password":"` + strings.Repeat("x", 10<<20) + `"}`, 413, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ts.base+"/api/login", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.code == "" {
				var ck *http.Cookie
				for _, c := range resp.Cookies() {
					if c.Name == sessionCookie {
						ck = c
					}
				}
				if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Value == "" {
					t.Fatalf("session cookie = %+v, want HttpOnly, Secure, SameSite=Strict", ck)
				}
				return
			}
			var body struct{ Error WireError }
			if err := jsonDecode(resp, &body); err != nil || body.Error.Code != tt.code {
				t.Fatalf("error = %+v (%v), want code %s", body.Error, err, tt.code)
			}
		})
	}
	// Every failure was audited.
	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Action: "auth.login", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var failed int
	for _, e := range entries {
		if e.Result == audit.ResultFailed {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("audited login failures = %d, want 2", failed)
	}
}

func TestLoginLockoutOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	// The limit is 5: four failures are answered 401, the fifth locks.
	for i := 1; i <= 5; i++ {
		resp, _ := ts.post("/api/login", `{"username":"u-official","password":"wrong-password"}`)
		want := http.StatusUnauthorized
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Fatalf("failure %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	resp, body := ts.post("/api/login", `{"username":"u-official","password":"password-official"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), CodeLockedOut) {
		t.Fatalf("right password while locked: %d %q retry-after %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	assertAudited(t, ts, 0, "auth.login", "u-official", audit.ResultDenied)
	// Other users are not locked out.
	if resp, _ := ts.post("/api/login", `{"username":"u-admin","password":"password-admin"}`); resp.StatusCode != 200 {
		t.Fatalf("other user: %d", resp.StatusCode)
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	ts := newTestServer(t)
	token := ts.login(auth.RoleFacilities)
	c := ts.connect(token)
	req, _ := http.NewRequest(http.MethodPost, ts.base+"/api/logout", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout status %d", resp.StatusCode)
	}
	if code := c.closeCode(); code != ClosePolicy {
		t.Fatalf("open socket closed with %d, want %d", code, ClosePolicy)
	}
	c2 := ts.dial(nil)
	c2.writeJSON(map[string]any{"type": TypeAuth, "token": token})
	if m := c2.readMsg(); m["type"] != TypeAuthInvalid {
		t.Fatalf("auth with a logged-out token: %v", m)
	}
}

func TestSessionLogoutOverWebsocket(t *testing.T) {
	ts := newTestServer(t)
	token := ts.login(auth.RoleOfficial)
	c := ts.connect(token)
	if r := c.request(TypeSessionLogout, nil); r["success"] != true {
		t.Fatalf("logout: %v", r)
	}
	if code := c.closeCode(); code != CloseNormal {
		t.Fatalf("close %d, want 1000", code)
	}
	if _, err := ts.auth.Authenticate(context.Background(), token); err == nil {
		t.Fatal("session still valid after session.logout")
	}
}

func TestRoleChangeClosesSockets(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	victim := ts.connect(ts.login(auth.RoleOfficial))
	r := admin.request(TypeUsersUpdate, map[string]any{"user_id": ts.users[auth.RoleOfficial].ID, "role": "facilities"})
	if r["success"] != true {
		t.Fatalf("update: %v", r)
	}
	if code := victim.closeCode(); code != ClosePolicy {
		t.Fatalf("victim socket closed with %d, want 1008", code)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(ts.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(ts.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("index: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
