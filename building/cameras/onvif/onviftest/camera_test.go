package onviftest

import (
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// envelope builds a GetDeviceInformation request by hand, so the camera
// is checked without package onvif.
func envelope(user, password string, nonce []byte, created time.Time) string {
	c := created.UTC().Format("2006-01-02T15:04:05.000Z")
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(c))
	h.Write([]byte(password))
	return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>` +
		`<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>` +
		`<Username>` + user + `</Username>` +
		`<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">` +
		base64.StdEncoding.EncodeToString(h.Sum(nil)) + `</Password>` +
		`<Nonce>` + base64.StdEncoding.EncodeToString(nonce) + `</Nonce>` +
		`<Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` + c + `</Created>` +
		`</UsernameToken></Security></s:Header><s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/soap+xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCameraChecksDigest(t *testing.T) {
	const skew = 3 * time.Hour
	srv, err := Start(Camera{User: "admin", Password: "pw", ClockSkew: skew})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()

	camNow := time.Now().Add(skew)
	tests := []struct {
		name    string
		body    string
		ok      bool
		refusal string
	}{
		{"good", envelope("admin", "pw", []byte("nonce-1"), camNow), true, ""},
		{"replayed nonce", envelope("admin", "pw", []byte("nonce-1"), camNow), false, "nonce replayed"},
		{"our clock, not the camera's", envelope("admin", "pw", []byte("nonce-2"), time.Now()), false, "from the camera's clock"},
		{"just inside the window", envelope("admin", "pw", []byte("nonce-3"), camNow.Add(Tolerance-time.Second)), true, ""},
		{"wrong password", envelope("admin", "pX", []byte("nonce-4"), camNow), false, "wrong digest"},
		{"wrong user", envelope("root", "pw", []byte("nonce-5"), camNow), false, "unknown user"},
	}
	for _, tt := range tests {
		before := len(srv.AuthFailures())
		status, body := post(t, srv.URL(), tt.body)
		if tt.ok != (status == http.StatusOK) || tt.ok != strings.Contains(body, "<tds:Model>OT-2146</tds:Model>") {
			t.Errorf("%s: HTTP %d %s", tt.name, status, body)
		}
		if !tt.ok {
			fails := srv.AuthFailures()
			if !strings.Contains(body, "ter:NotAuthorized") || len(fails) != before+1 || !strings.Contains(fails[before], tt.refusal) {
				t.Errorf("%s: body %s, refusals %q; want NotAuthorized for %q", tt.name, body, fails, tt.refusal)
			}
		}
	}
}

func TestCameraTimeIsSkewed(t *testing.T) {
	srv, err := Start(Camera{User: "admin", Password: "pw", ClockSkew: -2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	before := time.Now().Add(-2 * time.Hour).UTC()
	status, body := post(t, srv.URL(), `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>`+
		`<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`)
	after := time.Now().Add(-2 * time.Hour).UTC()
	hour := func(t time.Time) bool {
		return strings.Contains(body, "<tt:UTCDateTime><tt:Time><tt:Hour>"+strconv.Itoa(t.Hour())+"</tt:Hour>")
	}
	if status != http.StatusOK || !(hour(before) || hour(after)) {
		t.Errorf("HTTP %d %s; want hour %d, unauthenticated", status, body, before.Hour())
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
