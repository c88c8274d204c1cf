package onvif

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPasswordDigest(t *testing.T) {
	// The expected value was computed with Python's hashlib, independently
	// of this code.
	nonce := make([]byte, 16)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	if got, want := passwordDigest(nonce, "2026-03-04T02:04:05.123Z", "s3cret"), "jcLYXt6HQ1kN/aF3Je/cmG2Rsno="; got != want {
		t.Errorf("passwordDigest = %q, want %q", got, want)
	}
}

func TestDecodeFaults(t *testing.T) {
	tests := []struct {
		file string
		want Fault
		auth bool
	}{
		{"fault_notauthorized.xml", Fault{Code: "Sender", Subcode: "NotAuthorized", Reason: "Sender not Authorized",
			Detail: "The action requested requires authorization and the sender is not authorized"}, true},
		{"fault_noprofile.xml", Fault{Code: "Sender", Subcode: "InvalidArgVal/NoProfile", Reason: "The requested profile token does not exist"}, false},
		{"fault_soap11.xml", Fault{Code: "Client", Reason: "Method 'GetServices' not implemented: method name or namespace not recognized", Detail: "see the manual"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			err := decodeEnvelope(readTestdata(t, tt.file), "GetServicesResponse", nil)
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("error %v, want a *Fault", err)
			}
			if *f != tt.want {
				t.Errorf("fault %+v, want %+v", *f, tt.want)
			}
			if f.authFault() != tt.auth {
				t.Errorf("authFault() = %v, want %v", f.authFault(), tt.auth)
			}
			if !strings.Contains(f.Error(), tt.want.Reason) {
				t.Errorf("Error() = %q, does not show the reason", f.Error())
			}
		})
	}
}

func TestDecodeProfiles(t *testing.T) {
	tests := []struct {
		file string
		want []Profile
	}{
		{"getprofiles_media1.xml", []Profile{
			{Token: "Profile_101", Name: "mainStream", Encoding: "H264", Width: 2560, Height: 1440, FPS: 20, BitrateKbps: 6144},
			{Token: "Profile_102", Name: "subStream", Encoding: "JPEG", Width: 640, Height: 480, FPS: 6},
			{Token: "Profile_Meta", Name: "metadata"},
		}},
		{"getprofiles_media2.xml", []Profile{
			{Token: "MainStream", Name: "Main", Encoding: "H265", Width: 3840, Height: 2160, FPS: 12.5, BitrateKbps: 8192},
			{Token: "SubStream", Name: "Sub", Encoding: "H264", Width: 704, Height: 576, FPS: 25, BitrateKbps: 1024},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var x xmlProfiles
			if err := decodeEnvelope(readTestdata(t, tt.file), "GetProfilesResponse", &x); err != nil {
				t.Fatal(err)
			}
			if got := x.profiles(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("profiles\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"html", "<html><body>404</body></html>", "not a SOAP envelope"},
		{"empty", "", "not a SOAP envelope"},
		{"wrong element", `<e:Envelope xmlns:e="x"><e:Body><GetFooResponse/></e:Body></e:Envelope>`, `unexpected "GetFooResponse"`},
		{"empty body", `<e:Envelope xmlns:e="x"><e:Body></e:Body></e:Envelope>`, "empty SOAP body"},
		{"truncated", `<e:Envelope xmlns:e="x"><e:Body><GetBarResponse>`, "decode GetBarResponse: XML syntax error"},
		{"truncated header", `<e:Envelope xmlns:e="x"><e:Header><x>`, "bad XML"},
		{"charset", `<?xml version="1.0" encoding="EBCDIC"?><e:Envelope/>`, "unsupported charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out struct{}
			err := decodeEnvelope([]byte(tt.data), "GetBarResponse", &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeServicesAndTime(t *testing.T) {
	c := NewClient("http://10.0.0.5:8080/onvif/device_service", "", "", Options{})
	var x struct {
		SystemDateAndTime struct {
			UTCDateTime *xmlDateTime `xml:"UTCDateTime"`
		} `xml:"SystemDateAndTime"`
	}
	if err := decodeEnvelope(readTestdata(t, "systemdateandtime.xml"), "GetSystemDateAndTimeResponse", &x); err != nil {
		t.Fatal(err)
	}
	got, err := x.SystemDateAndTime.UTCDateTime.time()
	if want := time.Date(2026, 3, 4, 2, 4, 5, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("UTC time %v, %v; want %v", got, err, want)
	}
	// Rebasing moves every address onto the device URL's host.
	if got, want := c.rebase("http://192.168.1.64/onvif/Media2"), "http://10.0.0.5:8080/onvif/Media2"; got != want {
		t.Errorf("rebase = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "rtsp://x/y", "not a url", "http:///nohost"} {
		if got := c.rebase(bad); got != "" {
			t.Errorf("rebase(%q) = %q, want empty", bad, got)
		}
	}
}

func TestPullMessagesDecode(t *testing.T) {
	var x xmlPullMessages
	if err := decodeEnvelope(readTestdata(t, "pullmessages.xml"), "PullMessagesResponse", &x); err != nil {
		t.Fatal(err)
	}
	// The camera's clock is 1 h ahead: event times come back on ours.
	evs := x.events(time.Hour, 100)
	type brief struct {
		Topic, Kind string
		Active      bool
		Time        time.Time
	}
	var got []brief
	for _, e := range evs {
		got = append(got, brief{e.Topic, e.Kind, e.Active, e.Time})
	}
	want := []brief{
		{"RuleEngine/CellMotionDetector/Motion", KindMotion, true, time.Date(2026, 3, 4, 1, 4, 3, 0, time.UTC)},
		{"VideoSource/GlobalSceneChange/ImagingService", KindTamper, true, time.Date(2026, 3, 4, 1, 4, 4, 250e6, time.UTC)},
		{"VideoSource/MotionAlarm", KindMotion, false, time.Date(2026, 3, 4, 1, 4, 4, 0, time.UTC)},
		{"Device/Trigger/DigitalInput", KindOther, true, time.Date(2026, 3, 4, 1, 4, 5, 0, time.UTC)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events\n got %+v\nwant %+v", got, want)
	}
	if evs[0].Source["Rule"] != "MyMotionDetectorRule" || evs[1].Operation != "Initialized" {
		t.Errorf("source/operation not kept: %+v %+v", evs[0].Source, evs[1])
	}
	if n := len(x.events(0, 2)); n != 2 {
		t.Errorf("limit 2 gave %d events", n)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		topic, op string
		data      map[string]string
		kind      string
		active    bool
	}{
		{"RuleEngine/CellMotionDetector/Motion", "Changed", map[string]string{"IsMotion": "true"}, KindMotion, true},
		{"RuleEngine/CellMotionDetector/Motion", "Changed", map[string]string{"IsMotion": "false"}, KindMotion, false},
		{"VideoSource/MotionAlarm", "Changed", map[string]string{"State": "true"}, KindMotion, true},
		{"RuleEngine/MotionRegionDetector/Motion", "Changed", map[string]string{"State": "1"}, KindMotion, true},
		{"RuleEngine/TamperDetector/Tamper", "Changed", map[string]string{"IsTamper": "true"}, KindTamper, true},
		{"VideoSource/ImageTooDark/AnalyticsService", "Changed", map[string]string{"State": "true"}, KindTamper, true},
		{"VideoSource/ImageTooBlurry/ImagingService", "Initialized", map[string]string{"State": "false"}, KindTamper, false},
		{"VideoSource/GlobalSceneChange/AnalyticsService", "Deleted", map[string]string{"State": "true"}, KindTamper, false},
		{"Device/HardwareFailure/StorageFailure", "Changed", map[string]string{"Failed": "true"}, KindOther, true},
		{"RuleEngine/LineDetector/Crossed", "Changed", map[string]string{"ObjectId": "7", "Extra": "x"}, KindOther, false},
	}
	for _, tt := range tests {
		kind, active := classify(tt.topic, tt.op, tt.data)
		if kind != tt.kind || active != tt.active {
			t.Errorf("classify(%s, %s, %v) = %s, %v; want %s, %v", tt.topic, tt.op, tt.data, kind, active, tt.kind, tt.active)
		}
	}
}

func TestProbeMatchesDecode(t *testing.T) {
	data := readTestdata(t, "probematches.xml")
	got, err := parseProbeMatches(data, map[string]bool{"uuid:0c4b7f5a-53a6-4a57-9b5c-2c0d0f7d9e01": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{{
		XAddrs: []string{"http://192.168.1.64/onvif/device_service", "http://[fe80::c256:e3ff:fea1:b2c4]/onvif/device_service"},
		Scopes: []string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
			"onvif://www.onvif.org/Profile/G", "onvif://www.onvif.org/Profile/T", "onvif://www.onvif.org/name/East%20Entrance",
			"onvif://www.onvif.org/hardware/DS-2CD2143G2-I", "onvif://www.onvif.org/location/country/china",
			"onvif://www.onvif.org/location/city/shanghai"},
		Types:       []string{"dn:NetworkVideoTransmitter", "tds:Device"},
		EndpointRef: "urn:uuid:4a4b1c2d-1000-2000-3000-c056e3a1b2c4",
		Name:        "East Entrance", Hardware: "DS-2CD2143G2-I", Location: "country/china city/shanghai",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found\n got %+v\nwant %+v", got, want)
	}
	// An answer to someone else's Probe is refused.
	if _, err := parseProbeMatches(data, map[string]bool{"uuid:other": true}); err == nil {
		t.Error("a ProbeMatches relating to another probe was accepted")
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   []string
		want []challenge
	}{
		{[]string{`Digest qop="auth", realm="IP Camera(C1234)", nonce="4e54", stale="FALSE", opaque="", algorithm="MD5"`},
			[]challenge{{"digest", map[string]string{"qop": "auth", "realm": "IP Camera(C1234)", "nonce": "4e54", "stale": "FALSE", "opaque": "", "algorithm": "MD5"}}}},
		{[]string{`Basic realm="cam"`, `Digest realm="a \"q\" b",nonce=abc, qop="auth,auth-int"`},
			[]challenge{{"basic", map[string]string{"realm": "cam"}}, {"digest", map[string]string{"realm": `a "q" b`, "nonce": "abc", "qop": "auth,auth-int"}}}},
		{[]string{`Negotiate abc==, Basic realm=x`},
			[]challenge{{"negotiate", map[string]string{}}, {"basic", map[string]string{"realm": "x"}}}},
		{[]string{`Digest realm="unterminated`}, []challenge{{"digest", map[string]string{"realm": "unterminated"}}}},
		{[]string{""}, nil},
	}
	for _, tt := range tests {
		if got := parseChallenges(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseChallenges(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestDigestResponseRFC7616(t *testing.T) {
	// RFC 7616 section 3.9.1.
	p := map[string]string{"realm": "http-auth@example.org", "qop": "auth, auth-int", "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
		"opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}
	for algo, want := range map[string]string{"MD5": "8ca523f5e9506fed4657c9700eebdbec", "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"} {
		p["algorithm"] = algo
		h, err := digestResponse(p, "GET", "/dir/index.html", "Mufasa", "Circle of Life", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h, `response="`+want+`"`) || !strings.Contains(h, "qop=auth, nc=00000001") {
			t.Errorf("%s: header %s, want response %s", algo, h, want)
		}
	}
	p["algorithm"] = "SHA-512-256"
	if _, err := digestResponse(p, "GET", "/", "u", "p", "c"); err == nil {
		t.Error("an unknown algorithm was answered")
	}
}

func TestXSDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "PT1S", time.Second: "PT1S", 1500 * time.Millisecond: "PT2S", time.Minute: "PT60S"} {
		if got := xsDuration(d); got != want {
			t.Errorf("xsDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

// A real-camera GetServices answer, served as is: addresses are rebased
// onto the device URL, odd whitespace in namespaces is tolerated, and
// unknown services are ignored.
func TestGetServicesFromTestdata(t *testing.T) {
	body := readTestdata(t, "getservices.xml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/soap+xml")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := NewClient(srv.URL+"/onvif/device_service", "", "", Options{HTTPClient: &http.Client{Transport: tr}})
	got, err := c.Capabilities(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Services{Device: srv.URL + "/onvif/device_service", Media: srv.URL + "/onvif/Media", Media2: srv.URL + "/onvif/Media2",
		Events: srv.URL + "/onvif/Events", PTZ: srv.URL + "/onvif/PTZ", Imaging: srv.URL + "/onvif/Imaging",
		PullPoint: true, WSPullPoint: true, Source: "GetServices"}
	if got != want {
		t.Errorf("services\n got %+v\nwant %+v", got, want)
	}
}
