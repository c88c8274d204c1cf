package onvif

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Profile is a media profile: one stream the camera encodes.
type Profile struct {
	Token       string
	Name        string
	Encoding    string // H264, H265, JPEG, MPEG4; "" for a profile without video
	Width       int
	Height      int
	FPS         float64 // the frame rate limit
	BitrateKbps int     // the bitrate limit
}

// xmlProfile reads both Media ver10 profiles (VideoEncoderConfiguration)
// and Media2 profiles (Configurations/VideoEncoder).
type xmlProfile struct {
	Token          string           `xml:"token,attr"`
	Name           string           `xml:"Name"`
	VideoEncoder   *xmlVideoEncoder `xml:"VideoEncoderConfiguration"`
	Configurations struct {
		VideoEncoder *xmlVideoEncoder `xml:"VideoEncoder"`
	} `xml:"Configurations"`
}

type xmlVideoEncoder struct {
	Encoding   string `xml:"Encoding"`
	Resolution struct {
		Width  num `xml:"Width"`
		Height num `xml:"Height"`
	} `xml:"Resolution"`
	RateControl struct {
		FrameRateLimit num `xml:"FrameRateLimit"`
		BitrateLimit   num `xml:"BitrateLimit"`
	} `xml:"RateControl"`
}

type xmlProfiles struct {
	Profiles []xmlProfile `xml:"Profiles"`
}

// maxProfiles bounds the profiles we keep; real cameras have 2 to 4 per
// channel, encoders a few dozen.
const maxProfiles = 64

func (x *xmlProfiles) profiles() []Profile {
	var out []Profile
	for _, p := range x.Profiles {
		if len(out) == maxProfiles {
			break
		}
		pr := Profile{Token: clean(p.Token, 64), Name: clean(p.Name, 64)}
		ve := p.VideoEncoder
		if ve == nil {
			ve = p.Configurations.VideoEncoder
		}
		if ve != nil {
			pr.Encoding = normEncoding(ve.Encoding)
			pr.Width, pr.Height = int(ve.Resolution.Width), int(ve.Resolution.Height)
			pr.FPS = float64(ve.RateControl.FrameRateLimit)
			pr.BitrateKbps = int(ve.RateControl.BitrateLimit)
		}
		if pr.Token != "" {
			out = append(out, pr)
		}
	}
	return out
}

// normEncoding writes the codec names cameras use ("H.264", "h265",
// "MJPEG") the one way.
func normEncoding(s string) string {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), ".", ""))
	switch s {
	case "HEVC":
		return "H265"
	case "MJPEG", "MJPG":
		return "JPEG"
	}
	return clean(s, 16)
}

// media returns the media service to use and whether it is Media2. A
// camera that lists neither gets the device URL, since many serve every
// service at one address.
func (c *Client) media(ctx context.Context) (string, bool, error) {
	s, err := c.cachedServices(ctx)
	if err != nil {
		return "", false, err
	}
	c.mu.Lock()
	media1 := c.media1
	c.mu.Unlock()
	switch {
	case s.Media2 != "" && !(media1 && s.Media != ""):
		return s.Media2, true, nil
	case s.Media != "":
		return s.Media, false, nil
	}
	return c.DeviceURL(), false, nil
}

// fallBack decides whether a Media2 failure should send us to Media
// ver10 for good: an HTTP error, or a fault other than a bad argument,
// from a camera that also has ver10 (some firmware lists Media2 but
// implements it badly). A bad argument (an unknown profile token) would
// be as bad in ver10, so it is the caller's to see.
func (c *Client) fallBack(ctx context.Context, err error) bool {
	var f *Fault
	var se *statusError
	switch {
	case errors.Is(err, ErrAuth):
		return false
	case errors.As(err, &f):
		if strings.Contains(f.Subcode, "InvalidArg") {
			return false
		}
	case !errors.As(err, &se):
		return false
	}
	s, serr := c.cachedServices(ctx)
	if serr != nil || s.Media == "" {
		return false
	}
	c.mu.Lock()
	c.media1 = true
	c.mu.Unlock()
	c.log.Info("camera's Media2 service failed; using Media ver10", "device", c.DeviceURL(), "err", err)
	return true
}

// Profiles lists the camera's media profiles, from Media2 when the camera
// has it (it knows H.265) and Media ver10 otherwise.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	addr, v2, err := c.media(ctx)
	if err != nil {
		return nil, err
	}
	var resp xmlProfiles
	if v2 {
		r := request{
			op:     "GetProfiles",
			action: nsMedia2 + "/GetProfiles",
			// Without a Type, Media2 returns no configurations.
			body: `<tr2:GetProfiles xmlns:tr2="` + nsMedia2 + `"><tr2:Type>All</tr2:Type></tr2:GetProfiles>`,
		}
		err = c.call(ctx, addr, r, "GetProfilesResponse", &resp)
		if err == nil {
			return resp.profiles(), nil
		}
		if !c.fallBack(ctx, err) {
			return nil, err
		}
		if addr, _, err = c.media(ctx); err != nil {
			return nil, err
		}
	}
	r := request{
		op:     "GetProfiles",
		action: nsMedia + "/GetProfiles",
		body:   `<trt:GetProfiles xmlns:trt="` + nsMedia + `"/>`,
	}
	if err := c.call(ctx, addr, r, "GetProfilesResponse", &resp); err != nil {
		return nil, err
	}
	return resp.profiles(), nil
}

// xmlURI reads both Media ver10 (MediaUri/Uri) and Media2 (Uri) answers.
type xmlURI struct {
	URI      string `xml:"Uri"`
	MediaURI struct {
		URI string `xml:"Uri"`
	} `xml:"MediaUri"`
}

func (x *xmlURI) uri(scheme ...string) (string, error) {
	s := strings.TrimSpace(x.URI)
	if s == "" {
		s = strings.TrimSpace(x.MediaURI.URI)
	}
	if s == "" {
		return "", badAnswer("the camera returned no URI")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", badAnswer(fmt.Sprintf("the camera returned an unusable URI %q", clean(s, 120)))
	}
	for _, sc := range scheme {
		if strings.EqualFold(u.Scheme, sc) {
			return s, nil
		}
	}
	return "", badAnswer(fmt.Sprintf("the camera returned a %s URI, want %s", clean(u.Scheme, 16), strings.Join(scheme, " or ")))
}

// badAnswer is a well-formed answer we can't use.
type badAnswer string

// Error returns the sentence.
func (e badAnswer) Error() string { return string(e) }

// StreamURI returns the RTSP URI of a profile's stream (RTP unicast over
// RTSP).
func (c *Client) StreamURI(ctx context.Context, profileToken string) (string, error) {
	return c.mediaURI(ctx, "GetStreamUri", profileToken, "rtsp", "rtsps")
}

// SnapshotURI returns the HTTP URI of a JPEG snapshot of a profile.
func (c *Client) SnapshotURI(ctx context.Context, profileToken string) (string, error) {
	return c.mediaURI(ctx, "GetSnapshotUri", profileToken, "http", "https")
}

func (c *Client) mediaURI(ctx context.Context, op, token string, scheme ...string) (string, error) {
	addr, v2, err := c.media(ctx)
	if err != nil {
		return "", err
	}
	tok := `<ProfileToken>` + esc(token) + `</ProfileToken>`
	var resp xmlURI
	if v2 {
		// Media2 names the protocol; firmware before ONVIF 18.12 only
		// knows the older "RTSP", so that is the second try.
		protos := []string{"RtspUnicast", "RTSP"}
		if op == "GetSnapshotUri" {
			protos = []string{""}
		}
		for _, proto := range protos {
			body := `<` + op + ` xmlns="` + nsMedia2 + `">`
			if proto != "" {
				body += `<Protocol>` + proto + `</Protocol>`
			}
			r := request{op: op, action: nsMedia2 + "/" + op, body: body + tok + `</` + op + `>`}
			if err = c.call(ctx, addr, r, op+"Response", &resp); err == nil {
				return resp.uri(scheme...)
			}
			var f *Fault
			if !errors.As(err, &f) || f.authFault() {
				break
			}
		}
		if !c.fallBack(ctx, err) {
			return "", err
		}
		if addr, _, err = c.media(ctx); err != nil {
			return "", err
		}
	}
	body := `<` + op + ` xmlns="` + nsMedia + `">`
	if op == "GetStreamUri" {
		body += `<StreamSetup><Stream xmlns="` + nsSchema + `">RTP-Unicast</Stream>` +
			`<Transport xmlns="` + nsSchema + `"><Protocol>RTSP</Protocol></Transport></StreamSetup>`
	}
	r := request{op: op, action: nsMedia + "/" + op, body: body + tok + `</` + op + `>`}
	if err := c.call(ctx, addr, r, op+"Response", &resp); err != nil {
		return "", err
	}
	return resp.uri(scheme...)
}

// Probe is everything Client.Probe learnt about a camera.
type Probe struct {
	Info        DeviceInfo
	Services    Services
	Profiles    []ProfileWithURIs
	ClockOffset time.Duration // the camera's clock minus ours
	// Warnings says what was missing but not fatal, in words for a
	// person: a profile without a snapshot, a clock that couldn't be read.
	Warnings []string
}

// ProfileWithURIs is a profile with its stream and snapshot URIs; either
// may be empty when the camera has none for the profile (see
// Probe.Warnings).
type ProfileWithURIs struct {
	Profile
	StreamURI   string
	SnapshotURI string
}

// Probe reads everything about a camera, in order: its clock, identity,
// services, profiles and each profile's URIs. Auth and network failures
// end it; a profile without a stream or snapshot URI is only a warning,
// since many cameras have profiles (metadata, audio) without them.
func (c *Client) Probe(ctx context.Context) (Probe, error) {
	var p Probe
	if !c.noSync {
		off, err := c.SyncClock(ctx)
		if err != nil && ctx.Err() != nil {
			return p, err
		}
		if err != nil {
			p.Warnings = append(p.Warnings, "the camera's clock could not be read, so requests are signed with our own clock: "+err.Error())
		}
		p.ClockOffset = off
		c.mu.Lock()
		c.syncTried = true
		c.mu.Unlock()
	}
	var err error
	if p.Info, err = c.DeviceInformation(ctx); err != nil {
		return p, err
	}
	if p.Services, err = c.Capabilities(ctx); err != nil {
		return p, err
	}
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return p, err
	}
	for _, pr := range profiles {
		pw := ProfileWithURIs{Profile: pr}
		if pw.StreamURI, err = c.StreamURI(ctx, pr.Token); err != nil {
			if !minor(err) {
				return p, err
			}
			p.Warnings = append(p.Warnings, fmt.Sprintf("profile %s has no stream URI: %v", pr.Token, err))
		}
		if pw.SnapshotURI, err = c.SnapshotURI(ctx, pr.Token); err != nil {
			if !minor(err) {
				return p, err
			}
			p.Warnings = append(p.Warnings, fmt.Sprintf("profile %s has no snapshot URI: %v", pr.Token, err))
		}
		p.Profiles = append(p.Profiles, pw)
	}
	return p, nil
}

// minor reports whether an error concerns only the one request: a fault
// or an unusable answer, not auth or the network.
func minor(err error) bool {
	var f *Fault
	var b badAnswer
	if errors.Is(err, ErrAuth) {
		return false
	}
	return errors.As(err, &f) || errors.As(err, &b)
}
