package cameras

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"civic/building/cameras/onvif"
)

// ProbeResult is what an ONVIF probe found, for the camera editor to
// fill its fields before saving.
type ProbeResult struct {
	Manufacturer string        `json:"manufacturer"`
	Model        string        `json:"model"`
	Firmware     string        `json:"firmware"`
	Serial       string        `json:"serial"`
	Profiles     []Profile     `json:"profiles"`
	ClockOffset  time.Duration `json:"clock_offset_ms"`
	Events       bool          `json:"events"` // the camera offers a PullPoint for motion and tamper
}

// Probe asks the camera at an ONVIF device address who it is and what it
// streams, without saving anything.
func (s *Service) Probe(ctx context.Context, deviceURL, user, password string) (ProbeResult, error) {
	u, err := checkHTTPURL(deviceURL, "ONVIF address")
	if err != nil {
		return ProbeResult{}, err
	}
	c := onvif.NewClient(u, user, password, onvif.Options{Timeout: s.cfg.Timeout, Logger: s.log})
	p, err := c.Probe(ctx)
	if err != nil {
		return ProbeResult{}, onvifError(err)
	}
	out := ProbeResult{Manufacturer: p.Info.Manufacturer, Model: p.Info.Model, Firmware: p.Info.FirmwareVersion,
		Serial: p.Info.SerialNumber, ClockOffset: p.ClockOffset / time.Millisecond, Events: p.Services.PullPoint,
		Profiles: make([]Profile, 0, len(p.Profiles))}
	for _, pr := range p.Profiles {
		out.Profiles = append(out.Profiles, Profile{Token: pr.Token, Name: pr.Name, Encoding: pr.Encoding, Width: pr.Width,
			Height: pr.Height, FPS: int(pr.FPS + 0.5), BitrateKbps: pr.BitrateKbps, StreamURI: pr.StreamURI, SnapshotURI: pr.SnapshotURI})
	}
	return out, nil
}

// onvifError says what went wrong with a camera's ONVIF service, in
// words for the admin.
func onvifError(err error) error {
	var f *onvif.Fault
	switch {
	case errors.Is(err, onvif.ErrAuth):
		return fmt.Errorf("%w: %s: the camera refused the user name or password (%v)", ErrUnavailable, ReasonAuth, err)
	case errors.As(err, &f):
		return fmt.Errorf("%w: the camera answered with a fault: %s", ErrUnavailable, f.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: the camera did not answer in time", ErrUnavailable, ReasonUnreachable)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// fillFromONVIF probes c's ONVIF address and fills in its model, its
// profiles, and the stream and snapshot addresses of the chosen profile
// (c.Profile, or else the first H.264 one).
func (s *Service) fillFromONVIF(ctx context.Context, c Camera) (Camera, error) {
	p, err := s.Probe(ctx, c.ONVIFURL, c.Username, c.Password)
	if err != nil {
		return c, err
	}
	c.Manufacturer, c.Model, c.Firmware, c.Serial, c.Profiles = p.Manufacturer, p.Model, p.Firmware, p.Serial, p.Profiles
	var pick *Profile
	for i := range p.Profiles {
		pr := &p.Profiles[i]
		if c.Profile != "" && pr.Token == c.Profile || c.Profile == "" && pick == nil && strings.EqualFold(pr.Encoding, "H264") {
			pick = pr
		}
	}
	if pick == nil && c.Profile == "" && len(p.Profiles) > 0 {
		pick = &p.Profiles[0]
	}
	if pick == nil {
		return c, invalidf("the camera has no media profile %q", c.Profile)
	}
	if pick.StreamURI == "" {
		return c, fmt.Errorf("%w: the camera gave no stream address for profile %s", ErrUnavailable, pick.Name)
	}
	clean, user, pass, err := checkRTSPURL(pick.StreamURI)
	if err != nil {
		return c, fmt.Errorf("%w: the camera's stream address: %v", ErrUnavailable, err)
	}
	c.RTSPURL, c.Profile, c.SnapshotURL = clean, pick.Token, pick.SnapshotURI
	if user != "" && c.Username == "" {
		c.Username, c.Password = user, pass
	}
	c.HasPassword = c.Password != ""
	return c, nil
}

// Found is a camera that answered a discovery probe.
type Found struct {
	Address  string   `json:"address"` // the ONVIF device address to add it by
	XAddrs   []string `json:"xaddrs"`
	Name     string   `json:"name,omitempty"`
	Hardware string   `json:"hardware,omitempty"`
	Location string   `json:"location,omitempty"`
	// Known names the camera already added at this address, if any.
	Known string `json:"known,omitempty"`
}

// Discover sends a WS-Discovery probe and reports each camera that
// answers to onFound as it comes, then returns them all.
func (s *Service) Discover(ctx context.Context, timeout time.Duration, addr string, onFound func(Found)) ([]Found, error) {
	known := map[string]string{}
	for _, c := range s.List() {
		if c.ONVIFURL != "" {
			known[c.ONVIFURL] = c.ID
		}
	}
	convert := func(f onvif.Found) Found {
		out := Found{XAddrs: f.XAddrs, Name: f.Name, Hardware: f.Hardware, Location: f.Location}
		if len(f.XAddrs) > 0 {
			out.Address = f.XAddrs[0]
		}
		for _, x := range f.XAddrs {
			if id, ok := known[x]; ok {
				out.Known = id
			}
		}
		return out
	}
	var found []Found
	opts := onvif.DiscoverOptions{Timeout: timeout, Addr: addr, OnFound: func(f onvif.Found) {
		if onFound != nil {
			onFound(convert(f))
		}
	}}
	all, err := onvif.Discover(ctx, opts)
	for _, f := range all {
		found = append(found, convert(f))
	}
	if err != nil {
		return found, fmt.Errorf("%w: discovery: %v", ErrUnavailable, err)
	}
	return found, nil
}

// snapshot is a cached thumbnail.
type snapshot struct {
	data []byte
	ct   string
	at   time.Time
}

// Snapshot returns a still picture of the camera from its ONVIF snapshot
// address, fetched with its credentials. Pictures are cached for a few
// seconds so that many open consoles cost the camera one fetch.
func (s *Service) Snapshot(ctx context.Context, id string) ([]byte, string, error) {
	cam, err := s.Get(id)
	if err != nil {
		return nil, "", err
	}
	if cam.SnapshotURL == "" {
		return nil, "", fmt.Errorf("%w: camera %s has no snapshot address", ErrUnsupported, cam.Name)
	}
	s.mu.Lock()
	sn, ok := s.snaps[id]
	s.mu.Unlock()
	if ok && time.Since(sn.at) < 5*time.Second {
		return sn.data, sn.ct, nil
	}
	c := onvif.NewClient(cam.ONVIFURL, cam.Username, cam.Password, onvif.Options{Timeout: s.cfg.Timeout, Logger: s.log})
	data, ct, err := c.Snapshot(ctx, cam.SnapshotURL)
	if err != nil {
		return nil, "", onvifError(err)
	}
	s.mu.Lock()
	if s.workers[id] != nil {
		s.snaps[id] = snapshot{data: data, ct: ct, at: time.Now()}
	}
	s.mu.Unlock()
	return data, ct, nil
}
