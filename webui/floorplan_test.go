package webui

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"civic/internal/auth"
)

// planRequest sends a request to a floor's plan with the session cookie
// of token ("": none) and the given headers.
func (ts *testServer) planRequest(method, floor, token string, body []byte, headers map[string]string) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.base+strings.Replace(FloorPlanPath, "{id}", floor, 1), bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// testPNG is a small valid PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 3))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const cleanSVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50"><rect x="1" y="1" width="98" height="48" fill="none" stroke="black"/><text x="10" y="30">Ground floor</text></svg>`

const scriptSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>fetch('/api/ws')</script><rect width="10" height="10"/></svg>`

// TestFloorPlanUpload: admins upload a PNG or a plain SVG and facilities
// staff fetch it with headers that keep it from running anything; an SVG
// with script, a file that is no image, one that is too large, a
// cross-site request and other roles are refused with a clear error, and
// leave the stored plan as it was. Every change and refusal is audited.
func TestFloorPlanUpload(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	admin, staff, official := ts.login(auth.RoleAdmin), ts.login(auth.RoleFacilities), ts.login(auth.RoleOfficial)
	pngData := testPNG(t)
	mark := lastAuditID(t, ts)

	resp, body := ts.planRequest(http.MethodPost, "f1", admin, pngData, map[string]string{"Content-Type": "image/png"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"plan":"image/png"`) || !strings.Contains(string(body), `"id":"f1"`) {
		t.Fatalf("upload PNG: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.planRequest(http.MethodGet, "f1", staff, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngData) {
		t.Fatalf("get: %d, %d bytes", resp.StatusCode, len(body))
	}
	for k, v := range map[string]string{
		"Content-Type":            "image/png",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
		"Cache-Control":           "private, no-cache",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := ts.planRequest(http.MethodGet, "f1", staff, nil, map[string]string{"If-None-Match": etag}); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidate with ETag %q: %d, want 304", etag, resp.StatusCode)
	}

	huge := append(slices.Clone(pngData), make([]byte, maxFloorPlanBytes)...)
	refusals := []struct {
		name   string
		token  string
		body   []byte
		header map[string]string
		status int
		code   string
		msg    string
	}{
		{"SVG with script", admin, []byte(scriptSVG), map[string]string{"Content-Type": "image/svg+xml"}, http.StatusBadRequest, CodeInvalidParams, "the SVG floor plan was refused: it has a <script> element"},
		{"not an image", admin, []byte("%PDF-1.7 ..."), map[string]string{"Content-Type": "application/pdf"}, http.StatusUnsupportedMediaType, CodeInvalidFormat, "must be a PNG or SVG image"},
		{"a form", admin, []byte("--x\r\n"), map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, http.StatusUnsupportedMediaType, CodeInvalidFormat, "Content-Type image/png or image/svg+xml"},
		{"text called PNG", admin, []byte("hello"), map[string]string{"Content-Type": "image/png"}, http.StatusBadRequest, CodeInvalidParams, "not one"},
		{"text called SVG", admin, []byte("hello"), map[string]string{"Content-Type": "image/svg+xml"}, http.StatusBadRequest, CodeInvalidParams, "must be a PNG or SVG image"},
		{"PNG called SVG", admin, pngData, map[string]string{"Content-Type": "image/svg+xml"}, http.StatusBadRequest, CodeInvalidParams, "is a PNG"},
		{"empty", admin, nil, map[string]string{"Content-Type": "image/png"}, http.StatusBadRequest, CodeInvalidParams, "empty"},
		{"too large", admin, huge, map[string]string{"Content-Type": "image/png"}, http.StatusRequestEntityTooLarge, CodeTooLarge, "at most 5 MiB"},
		{"unknown floor", admin, pngData, map[string]string{"Content-Type": "image/png"}, http.StatusNotFound, CodeNotFound, "there is no floor"},
		{"facilities", staff, pngData, map[string]string{"Content-Type": "image/png"}, http.StatusForbidden, CodeNotAllowed, "only admins"},
		{"official", official, pngData, map[string]string{"Content-Type": "image/png"}, http.StatusForbidden, CodeNotAllowed, "only admins"},
		{"no session", "", pngData, map[string]string{"Content-Type": "image/png"}, http.StatusUnauthorized, CodeAuthFailed, "sign in"},
		{"other origin", admin, pngData, map[string]string{"Content-Type": "image/png", "Origin": "https://evil.example"}, http.StatusForbidden, CodeNotAllowed, "console's own pages"},
		{"cross-site fetch", admin, pngData, map[string]string{"Content-Type": "image/png", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, CodeNotAllowed, "console's own pages"},
	}
	for _, tt := range refusals {
		floor := "f1"
		if tt.name == "unknown floor" {
			floor = "f9"
		}
		resp, body := ts.planRequest(http.MethodPost, floor, tt.token, tt.body, tt.header)
		var got struct{ Error WireError }
		_ = json.Unmarshal(body, &got)
		if resp.StatusCode != tt.status || got.Error.Code != tt.code || !strings.Contains(got.Error.Message, tt.msg) {
			t.Errorf("%s: %d %s, want %d %s saying %q", tt.name, resp.StatusCode, body, tt.status, tt.code, tt.msg)
		}
	}
	if _, body := ts.planRequest(http.MethodGet, "f1", staff, nil, nil); !bytes.Equal(body, pngData) {
		t.Fatal("a refused upload changed the stored plan")
	}
	var got []string
	for _, e := range ts.auditSince(mark) {
		got = append(got, e.Action+"/"+e.Result)
	}
	want := []string{auditPlanUpload + "/ok"}
	for range 9 { // the refusals of an admin's uploads
		want = append(want, auditPlanUpload+"/failed")
	}
	want = append(want, auditPlanUpload+"/denied", auditPlanUpload+"/denied", auditPlanUpload+"/denied", auditPlanUpload+"/denied")
	if !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}

	// A plain SVG replaces the PNG and is served as SVG.
	resp, body = ts.planRequest(http.MethodPost, "f1", admin, []byte(cleanSVG), map[string]string{"Content-Type": "image/svg+xml; charset=utf-8", "Origin": ts.base})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"plan":"image/svg+xml"`) {
		t.Fatalf("upload SVG: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.planRequest(http.MethodGet, "f1", admin, nil, nil)
	if resp.StatusCode != http.StatusOK || string(body) != cleanSVG || resp.Header.Get("Content-Type") != "image/svg+xml" ||
		resp.Header.Get("Content-Security-Policy") != floorPlanCSP || resp.Header.Get("ETag") == etag {
		t.Fatalf("get SVG: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	for _, tt := range []struct {
		name, token string
		status      int
	}{{"official", official, http.StatusForbidden}, {"no session", "", http.StatusUnauthorized}} {
		if resp, body := ts.planRequest(http.MethodGet, "f1", tt.token, nil, nil); resp.StatusCode != tt.status || bytes.Contains(body, []byte("<svg")) {
			t.Errorf("get as %s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.status)
		}
	}
	if resp, _ := ts.planRequest(http.MethodDelete, "f1", staff, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("delete as facilities: %d, want 403", resp.StatusCode)
	}
	if resp, body := ts.planRequest(http.MethodDelete, "f1", admin, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.planRequest(http.MethodGet, "f1", staff, nil, nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"code":"not_found"`) {
		t.Fatalf("get after delete: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.planRequest(http.MethodDelete, "f1", admin, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("delete again: %d, want 404", resp.StatusCode)
	}
}

// TestFloorPlanBearer: a script uploads with its bearer token instead of
// the cookie.
func TestFloorPlanBearer(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	token := ts.login(auth.RoleAdmin)
	resp, body := ts.planRequest(http.MethodPost, "f2", "", testPNG(t), map[string]string{"Content-Type": "image/png", "Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload with a bearer token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.planRequest(http.MethodGet, "f2", "", nil, map[string]string{"Authorization": "Bearer nope"}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad bearer token: %d, want 401", resp.StatusCode)
	}
}
