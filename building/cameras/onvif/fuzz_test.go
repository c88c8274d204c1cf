package onvif

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedTestdata adds every testdata file as a seed.
func seedTestdata(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkText fails when camera-supplied text escaped cleaning.
func checkText(t *testing.T, what string, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n\t") {
			t.Fatalf("%s holds unclean text %q", what, s)
		}
	}
}

// FuzzDecodeEnvelope feeds a response to the decoder of every response
// kind the client reads: none may panic, a fault must be a *Fault with
// clean text, and decoded values must be bounded and clean.
func FuzzDecodeEnvelope(f *testing.F) {
	seedTestdata(f)
	f.Add([]byte(`<e:Envelope xmlns:e="x"><e:Body><e:Fault><e:Code><e:Subcode><e:Subcode><e:Subcode/></e:Subcode></e:Subcode></e:Code></e:Fault></e:Body></e:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(err error) {
			var fl *Fault
			if errors.As(err, &fl) {
				checkText(t, "fault", fl.Code, fl.Subcode, fl.Reason, fl.Detail)
				_ = fl.Error()
			}
		}
		var dev struct {
			Manufacturer string `xml:"Manufacturer"`
		}
		check(decodeEnvelope(data, "GetDeviceInformationResponse", &dev))

		var tm struct {
			SystemDateAndTime struct {
				UTCDateTime *xmlDateTime `xml:"UTCDateTime"`
			} `xml:"SystemDateAndTime"`
		}
		if err := decodeEnvelope(data, "GetSystemDateAndTimeResponse", &tm); err == nil && tm.SystemDateAndTime.UTCDateTime != nil {
			if ts, err := tm.SystemDateAndTime.UTCDateTime.time(); err == nil && (ts.Year() < 1970 || ts.Year() > 9999) {
				t.Fatalf("accepted time %v", ts)
			}
		} else {
			check(err)
		}

		var prof xmlProfiles
		if err := decodeEnvelope(data, "GetProfilesResponse", &prof); err == nil {
			ps := prof.profiles()
			if len(ps) > maxProfiles {
				t.Fatalf("%d profiles", len(ps))
			}
			for _, p := range ps {
				checkText(t, "profile", p.Token, p.Name, p.Encoding)
			}
		} else {
			check(err)
		}

		var uri xmlURI
		if err := decodeEnvelope(data, "GetStreamUriResponse", &uri); err == nil {
			if u, err := uri.uri("rtsp"); err == nil && !strings.HasPrefix(strings.ToLower(u), "rtsp") {
				t.Fatalf("accepted %q as an RTSP URI", u)
			}
		} else {
			check(err)
		}

		c := NewClient("http://127.0.0.1/onvif/device_service", "", "", Options{})
		for _, want := range []string{"GetServicesResponse", "GetCapabilitiesResponse"} {
			var svc struct {
				Service []struct {
					Namespace string `xml:"Namespace"`
					XAddr     string `xml:"XAddr"`
				} `xml:"Service"`
			}
			if err := decodeEnvelope(data, want, &svc); err == nil {
				for _, s := range svc.Service {
					if a := c.rebase(s.XAddr); a != "" && !strings.HasPrefix(a, "http://127.0.0.1/") {
						t.Fatalf("rebase(%q) = %q left the device host", s.XAddr, a)
					}
				}
			} else {
				check(err)
			}
		}
		check(decodeEnvelope(data, "UnsubscribeResponse", nil))
	})
}

// FuzzPullMessages decodes PullMessages responses and converts them to
// events: bounded, classified, clean.
func FuzzPullMessages(f *testing.F) {
	seedTestdata(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var x xmlPullMessages
		if err := decodeEnvelope(data, "PullMessagesResponse", &x); err != nil {
			return
		}
		evs := x.events(0, 50)
		if len(evs) > 50 {
			t.Fatalf("%d events past the limit", len(evs))
		}
		for _, e := range evs {
			if e.Kind != KindMotion && e.Kind != KindTamper && e.Kind != KindOther {
				t.Fatalf("kind %q", e.Kind)
			}
			if len(e.Source) > 64 || len(e.Data) > 32 {
				t.Fatalf("unbounded items: %d source, %d data", len(e.Source), len(e.Data))
			}
			checkText(t, "topic", e.Topic, e.Operation)
		}
	})
}

// FuzzProbeMatches decodes discovery answers.
func FuzzProbeMatches(f *testing.F) {
	seedTestdata(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		found, err := parseProbeMatches(data, nil)
		if err != nil {
			return
		}
		if len(found) > maxListItems {
			t.Fatalf("%d matches", len(found))
		}
		for _, fd := range found {
			if len(fd.XAddrs) > maxListItems || len(fd.Scopes) > maxListItems || len(fd.Types) > maxListItems {
				t.Fatalf("unbounded lists in %+v", fd)
			}
			checkText(t, "found", fd.EndpointRef, fd.Name, fd.Hardware, fd.Location)
			checkText(t, "xaddrs", fd.XAddrs...)
		}
	})
}

// FuzzDigestChallenge parses WWW-Authenticate values and answers them.
func FuzzDigestChallenge(f *testing.F) {
	f.Add(`Digest qop="auth", realm="IP Camera(C1234)", nonce="4e54", stale="FALSE", opaque="", algorithm="MD5"`)
	f.Add(`Basic realm="cam", Digest realm="a \"q\" b",nonce=abc, qop="auth,auth-int", algorithm=SHA-256-sess`)
	f.Add(`Negotiate abc==, Digest nonce="`)
	f.Fuzz(func(t *testing.T, header string) {
		chs := parseChallenges([]string{header})
		if len(chs) > maxChallenges {
			t.Fatalf("%d challenges", len(chs))
		}
		for _, ch := range chs {
			if len(ch.params) > maxParams {
				t.Fatalf("%d params", len(ch.params))
			}
		}
		h, err := authorization(chs, "GET", "/onvif/snapshot", "admin", "secret")
		if err == nil && !strings.HasPrefix(h, "Digest ") && !strings.HasPrefix(h, "Basic ") {
			t.Fatalf("authorization %q", h)
		}
		if err == nil && strings.HasPrefix(h, "Digest ") && strings.Contains(h, "secret") {
			t.Fatalf("the digest answer shows the password: %q", h)
		}
	})
}
