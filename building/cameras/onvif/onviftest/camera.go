// Package onviftest is a test ONVIF camera: an HTTP SOAP responder on
// 127.0.0.1 that answers the device, media (ver10 and ver20) and event
// calls package onvif makes with canned XML in the style of real cameras,
// checks WS-Security digests against its own (possibly wrong) clock,
// serves a snapshot behind HTTP Digest auth, and answers WS-Discovery
// Probes on UDP.
//
// It shares no code with package onvif on purpose, so a mistake in the
// client's protocol handling is not mirrored here. Only tests import it.
package onviftest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Namespaces the camera checks requests against and answers in.
const (
	nsSOAP    = "http://www.w3.org/2003/05/soap-envelope"
	nsDevice  = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia   = "http://www.onvif.org/ver10/media/wsdl"
	nsMedia2  = "http://www.onvif.org/ver20/media/wsdl"
	nsEvents  = "http://www.onvif.org/ver10/events/wsdl"
	nsPTZ     = "http://www.onvif.org/ver20/ptz/wsdl"
	nsImaging = "http://www.onvif.org/ver20/imaging/wsdl"
	nsWSNT    = "http://docs.oasis-open.org/wsn/b-2"
)

// Tolerance is how far a UsernameToken's Created may be from the
// camera's clock, either way.
const Tolerance = 5 * time.Second

// Camera configures the test camera. Zero values take the defaults.
type Camera struct {
	// User and Password are the one account. An empty User turns auth off.
	User, Password string
	// ClockSkew is how far the camera's clock is off (ahead when
	// positive): its GetSystemDateAndTime and its digest check use it.
	ClockSkew time.Duration
	// Identity. Defaults: "Civic Test Cameras", "OT-2146", "V5.7.3 build
	// 240101", "OT2146-20260101-0001", "88".
	Manufacturer, Model, Firmware, Serial, HardwareID string
	// Profiles. Default: a 1080p H.265 main stream and a 360p H.264 sub
	// stream.
	Profiles []Profile
	// StreamURI is the base of stream URIs: a profile's is StreamURI/token.
	// Default: rtsp://127.0.0.1:554/Streaming/Channels.
	StreamURI string
	// SnapshotURI, when set, is returned for every profile instead of
	// this server's own /onvif/snapshot.
	SnapshotURI string
	// Snapshot is the JPEG served. Default: a small generated one.
	Snapshot []byte
	// SnapshotAuth is "digest" (default), "basic" or "none".
	SnapshotAuth string
	// Events are queued on every new subscription, as a camera reports
	// its current state when a pull point is created. Publish adds more.
	Events []Event
	// NoEvents leaves out the event service.
	NoEvents bool
	// NoMedia2 leaves out Media ver20, like cameras before Profile T.
	NoMedia2 bool
	// BrokenMedia2 lists Media ver20 but answers 404 there, like firmware
	// that advertises more than it implements.
	BrokenMedia2 bool
	// NoGetServices answers GetServices with a fault, like cameras
	// before ONVIF 2.0, which know only GetCapabilities.
	NoGetServices bool
	// RefParams addresses subscriptions by a WS-Addressing reference
	// parameter that the client must send back, instead of by path.
	RefParams bool
	// AdvertiseHost is the host:port put in service and subscription
	// addresses, like a camera behind NAT reporting its inside address.
	// Default: the listener's address.
	AdvertiseHost string
	// HTTPDigest guards the SOAP endpoints (all but
	// GetSystemDateAndTime) with HTTP Digest auth as well as WS-Security,
	// as some cameras do.
	HTTPDigest bool
	// AuthFailStatus is the HTTP status of a ter:NotAuthorized fault.
	// Default: 400, as SOAP 1.2 prescribes for Sender faults; some
	// cameras send 401.
	AuthFailStatus int
}

// Profile is one media profile.
type Profile struct {
	Token, Name string
	Encoding    string // H264, H265, JPEG
	Width       int
	Height      int
	FPS         int
	BitrateKbps int
}

// Event is a canned notification.
type Event struct {
	Topic     string    // with prefix: "tns1:RuleEngine/CellMotionDetector/Motion"
	Time      time.Time // zero: the camera's clock when pulled
	Operation string    // Initialized, Changed (default) or Deleted
	Source    []Item
	Data      []Item
}

// Item is a tt:SimpleItem.
type Item struct{ Name, Value string }

// Server is a running test camera.
type Server struct {
	cam      Camera
	ln       net.Listener
	srv      *http.Server
	host     string // host:port in addresses
	done     chan struct{}
	mux      *http.ServeMux
	handlers map[string]map[xml.Name]handler // path → operation → handler

	mu         sync.Mutex
	calls      []string
	authFails  []string
	nonces     map[string]time.Time // WS-Security nonces seen, for replay
	digests    map[string]*digestNonce
	subs       map[string]*subscription
	nextSub    int
	serverDone sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error
}

type handler func(w http.ResponseWriter, r *http.Request, req *request)

// Start starts a camera on 127.0.0.1 on a free port.
func Start(c Camera) (*Server, error) {
	c = withDefaults(c)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{cam: c, ln: ln, host: ln.Addr().String(), done: make(chan struct{}),
		nonces: map[string]time.Time{}, digests: map[string]*digestNonce{}, subs: map[string]*subscription{}}
	if c.AdvertiseHost != "" {
		s.host = c.AdvertiseHost
	}
	s.routes()
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	s.serverDone.Add(1)
	go func() {
		defer s.serverDone.Done()
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func withDefaults(c Camera) Camera {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Manufacturer, "Civic Test Cameras")
	def(&c.Model, "OT-2146")
	def(&c.Firmware, "V5.7.3 build 240101")
	def(&c.Serial, "OT2146-20260101-0001")
	def(&c.HardwareID, "88")
	def(&c.StreamURI, "rtsp://127.0.0.1:554/Streaming/Channels")
	def(&c.SnapshotAuth, "digest")
	if c.Profiles == nil {
		c.Profiles = []Profile{
			{Token: "Profile_1", Name: "mainStream", Encoding: "H265", Width: 1920, Height: 1080, FPS: 25, BitrateKbps: 4096},
			{Token: "Profile_2", Name: "subStream", Encoding: "H264", Width: 640, Height: 360, FPS: 15, BitrateKbps: 512},
		}
	}
	if c.Snapshot == nil {
		c.Snapshot = testJPEG()
	}
	if c.AuthFailStatus == 0 {
		c.AuthFailStatus = http.StatusBadRequest
	}
	return c
}

// testJPEG draws a small gradient.
func testJPEG() []byte {
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	for y := range 24 {
		for x := range 32 {
			img.SetGray(x, y, color.Gray{Y: uint8(x*8 + y)})
		}
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, nil) // encoding to memory doesn't fail
	return b.Bytes()
}

// URL returns the device service URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/onvif/device_service" }

// Addr returns the listener's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the camera, ending pulls that are waiting.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.srv.Shutdown(ctx)
		s.serverDone.Wait()
	})
	return s.closeErr
}

// Calls returns the operations received, in order ("GetProfiles", ...).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// AuthFailures returns why each refused request was refused.
func (s *Server) AuthFailures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authFails...)
}

// Now is the camera's clock.
func (s *Server) Now() time.Time { return time.Now().Add(s.cam.ClockSkew) }

// routes registers the services the camera offers.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handlers = map[string]map[xml.Name]handler{}
	add := func(path, ns, op string, h handler) {
		if s.handlers[path] == nil {
			s.handlers[path] = map[xml.Name]handler{}
			s.mux.HandleFunc("POST "+path, s.serveSOAP)
		}
		s.handlers[path][xml.Name{Space: ns, Local: op}] = h
	}
	dev := "/onvif/device_service"
	add(dev, nsDevice, "GetSystemDateAndTime", s.getSystemDateAndTime)
	add(dev, nsDevice, "GetDeviceInformation", s.getDeviceInformation)
	add(dev, nsDevice, "GetCapabilities", s.getCapabilities)
	if !s.cam.NoGetServices {
		add(dev, nsDevice, "GetServices", s.getServices)
	}
	add("/onvif/media_service", nsMedia, "GetProfiles", s.getProfiles)
	add("/onvif/media_service", nsMedia, "GetStreamUri", s.getURI)
	add("/onvif/media_service", nsMedia, "GetSnapshotUri", s.getURI)
	if !s.cam.NoMedia2 && !s.cam.BrokenMedia2 {
		add("/onvif/media2_service", nsMedia2, "GetProfiles", s.getProfiles)
		add("/onvif/media2_service", nsMedia2, "GetStreamUri", s.getURI)
		add("/onvif/media2_service", nsMedia2, "GetSnapshotUri", s.getURI)
	}
	if !s.cam.NoEvents {
		add("/onvif/event_service", nsEvents, "CreatePullPointSubscription", s.createPullPoint)
		sub := "/onvif/subscription/{id}"
		if s.cam.RefParams {
			sub = "/onvif/Events/SubManager"
		}
		add(sub, nsEvents, "PullMessages", s.pullMessages)
		add(sub, nsWSNT, "Renew", s.renew)
		add(sub, nsWSNT, "Unsubscribe", s.unsubscribe)
	}
	s.mux.HandleFunc("GET /onvif/snapshot", s.serveSnapshot)
}

// request is a decoded SOAP request.
type request struct {
	XMLName xml.Name
	Header  struct {
		Security *struct {
			UsernameToken struct {
				Username string `xml:"Username"`
				Password struct {
					Type  string `xml:"Type,attr"`
					Value string `xml:",chardata"`
				} `xml:"Password"`
				Nonce   string `xml:"Nonce"`
				Created string `xml:"Created"`
			} `xml:"UsernameToken"`
		} `xml:"Security"`
		SubscriptionID string `xml:"SubscriptionId"`
	} `xml:"Header"`
	Body struct {
		Op op `xml:",any"`
	} `xml:"Body"`
}

// op holds the parameters of every operation the camera knows; their
// names don't clash.
type op struct {
	XMLName           xml.Name
	IncludeCapability string   `xml:"IncludeCapability"`
	Type              []string `xml:"Type"`
	ProfileToken      string   `xml:"ProfileToken"`
	Protocol          string   `xml:"Protocol"`
	StreamSetup       struct {
		Stream    string `xml:"Stream"`
		Transport struct {
			Protocol string `xml:"Protocol"`
		} `xml:"Transport"`
	} `xml:"StreamSetup"`
	InitialTerminationTime string `xml:"InitialTerminationTime"`
	Timeout                string `xml:"Timeout"`
	MessageLimit           int    `xml:"MessageLimit"`
	TerminationTime        string `xml:"TerminationTime"`
}

// serveSOAP decodes a request, checks its credentials and dispatches it.
func (s *Server) serveSOAP(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/soap+xml" {
		http.Error(w, "SOAP 1.2 requests must be application/soap+xml", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var req request
	if err := xml.Unmarshal(body, &req); err != nil {
		s.fault(w, http.StatusBadRequest, "env:Sender", "ter:WellFormed", "The message is not well-formed: "+err.Error())
		return
	}
	if req.XMLName.Space != nsSOAP {
		s.fault(w, http.StatusBadRequest, "env:VersionMismatch", "", "The envelope is not SOAP 1.2")
		return
	}
	name := req.Body.Op.XMLName
	s.mu.Lock()
	s.calls = append(s.calls, name.Local)
	s.mu.Unlock()
	pattern := r.Pattern[len("POST "):]
	h := s.handlers[pattern][name]
	if h == nil {
		s.fault(w, http.StatusBadRequest, "env:Receiver", "ter:ActionNotSupported", "The requested action is not supported by this service")
		return
	}
	if name.Local != "GetSystemDateAndTime" && s.cam.HTTPDigest && !s.checkDigest(r) {
		w.Header().Set("WWW-Authenticate", s.challenge())
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	if name.Local != "GetSystemDateAndTime" && s.cam.User != "" {
		if why := s.checkToken(&req); why != "" {
			s.mu.Lock()
			s.authFails = append(s.authFails, name.Local+": "+why)
			s.mu.Unlock()
			s.fault(w, s.cam.AuthFailStatus, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
			return
		}
	}
	h(w, r, &req)
}

// checkToken checks the UsernameToken and says why it is refused, or "".
func (s *Server) checkToken(req *request) string {
	sec := req.Header.Security
	if sec == nil {
		return "no WS-Security header"
	}
	ut := sec.UsernameToken
	if ut.Username != s.cam.User {
		return "unknown user"
	}
	if !strings.HasSuffix(ut.Password.Type, "#PasswordDigest") {
		return "password is not a PasswordDigest"
	}
	nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ut.Nonce))
	if err != nil || len(nonce) == 0 {
		return "bad nonce"
	}
	created, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(ut.Created))
	if err != nil {
		return "bad Created"
	}
	now := s.Now()
	if d := created.Sub(now); d > Tolerance || d < -Tolerance {
		return fmt.Sprintf("Created is %v from the camera's clock", d.Round(time.Second))
	}
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(strings.TrimSpace(ut.Created)))
	h.Write([]byte(s.cam.Password))
	want := base64.StdEncoding.EncodeToString(h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(ut.Password.Value))) != 1 {
		return "wrong digest"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, t := range s.nonces {
		if now.Sub(t) > 2*Tolerance {
			delete(s.nonces, n)
		}
	}
	if _, seen := s.nonces[ut.Nonce]; seen {
		return "nonce replayed"
	}
	s.nonces[ut.Nonce] = now
	return ""
}

// errNoSub is the fault for an unknown or expired subscription.
var errNoSub = errors.New("no such subscription")
