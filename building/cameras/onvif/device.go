package onvif

import (
	"context"
	"errors"
	"strings"
)

// DeviceInfo is what GetDeviceInformation reports.
type DeviceInfo struct {
	Manufacturer    string
	Model           string
	FirmwareVersion string
	SerialNumber    string
	HardwareID      string
}

// DeviceInformation asks the camera who it is.
func (c *Client) DeviceInformation(ctx context.Context) (DeviceInfo, error) {
	r := request{
		op:     "GetDeviceInformation",
		action: nsDevice + "/GetDeviceInformation",
		body:   `<tds:GetDeviceInformation xmlns:tds="` + nsDevice + `"/>`,
	}
	var resp struct {
		Manufacturer    string `xml:"Manufacturer"`
		Model           string `xml:"Model"`
		FirmwareVersion string `xml:"FirmwareVersion"`
		SerialNumber    string `xml:"SerialNumber"`
		HardwareID      string `xml:"HardwareId"`
	}
	if err := c.call(ctx, c.DeviceURL(), r, "GetDeviceInformationResponse", &resp); err != nil {
		return DeviceInfo{}, err
	}
	return DeviceInfo{
		Manufacturer:    clean(resp.Manufacturer, 200),
		Model:           clean(resp.Model, 200),
		FirmwareVersion: clean(resp.FirmwareVersion, 200),
		SerialNumber:    clean(resp.SerialNumber, 200),
		HardwareID:      clean(resp.HardwareID, 200),
	}, nil
}

// Services are the service addresses a camera offers, rebased onto the
// device URL's host (see Client.rebase). An empty address means the
// service is absent.
type Services struct {
	Device  string
	Media   string // Media ver10
	Media2  string // Media ver20 (Profile T cameras); preferred when present
	Events  string
	PTZ     string
	Imaging string
	// PullPoint reports that events can be pulled: ONVIF makes the
	// real-time pull point (CreatePullPointSubscription) mandatory for
	// every event service, so it is true whenever Events is set.
	PullPoint bool
	// WSPullPoint is the camera's WSPullPointSupport flag. It concerns
	// WS-BaseNotification's own pull point, which this client does not
	// use; many cameras report false here and pull fine.
	WSPullPoint bool
	// Source is the call the addresses came from: "GetServices", or
	// "GetCapabilities" for cameras older than ONVIF 2.0.
	Source string
}

// Capabilities asks the camera for its services with GetServices and,
// when the camera doesn't know that call, with GetCapabilities. The
// result is kept for the media and event calls.
func (c *Client) Capabilities(ctx context.Context) (Services, error) {
	s, err := c.getServices(ctx)
	var f *Fault
	var se *statusError
	if err != nil && !errors.Is(err, ErrAuth) && (errors.As(err, &f) || errors.As(err, &se)) {
		c.log.Debug("GetServices failed; trying GetCapabilities", "device", c.DeviceURL(), "err", err)
		s, err = c.getCapabilities(ctx)
	}
	if err != nil {
		return Services{}, err
	}
	if s.Device == "" {
		s.Device = c.DeviceURL()
	}
	s.PullPoint = s.Events != ""
	c.mu.Lock()
	c.services = &s
	c.media1 = false
	c.mu.Unlock()
	return s, nil
}

// cachedServices returns the services, asking the camera once.
func (c *Client) cachedServices(ctx context.Context) (Services, error) {
	c.mu.Lock()
	s := c.services
	c.mu.Unlock()
	if s != nil {
		return *s, nil
	}
	return c.Capabilities(ctx)
}

func (c *Client) getServices(ctx context.Context) (Services, error) {
	r := request{
		op:     "GetServices",
		action: nsDevice + "/GetServices",
		// The capabilities tell us the event service's flags without a
		// call to each service.
		body: `<tds:GetServices xmlns:tds="` + nsDevice + `"><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>`,
	}
	var resp struct {
		Service []struct {
			Namespace    string `xml:"Namespace"`
			XAddr        string `xml:"XAddr"`
			Capabilities struct {
				Inner struct {
					WSPullPointSupport string `xml:"WSPullPointSupport,attr"`
				} `xml:"Capabilities"`
			} `xml:"Capabilities"`
		} `xml:"Service"`
	}
	if err := c.call(ctx, c.DeviceURL(), r, "GetServicesResponse", &resp); err != nil {
		return Services{}, err
	}
	s := Services{Source: "GetServices"}
	for _, svc := range resp.Service {
		addr := c.rebase(svc.XAddr)
		switch strings.TrimRight(strings.ToLower(strings.TrimSpace(svc.Namespace)), "/") {
		case nsDevice:
			s.Device = addr
		case nsMedia:
			s.Media = addr
		case nsMedia2:
			s.Media2 = addr
		case nsEvents:
			s.Events = addr
			s.WSPullPoint = xmlBool(svc.Capabilities.Inner.WSPullPointSupport)
		case nsPTZ:
			s.PTZ = addr
		case nsImaging:
			s.Imaging = addr
		}
	}
	return s, nil
}

func (c *Client) getCapabilities(ctx context.Context) (Services, error) {
	r := request{
		op:     "GetCapabilities",
		action: nsDevice + "/GetCapabilities",
		body:   `<tds:GetCapabilities xmlns:tds="` + nsDevice + `"><tds:Category>All</tds:Category></tds:GetCapabilities>`,
	}
	type xaddr struct {
		XAddr string `xml:"XAddr"`
	}
	var resp struct {
		Capabilities struct {
			Device xaddr `xml:"Device"`
			Events struct {
				XAddr              string `xml:"XAddr"`
				WSPullPointSupport string `xml:"WSPullPointSupport"`
			} `xml:"Events"`
			Imaging xaddr `xml:"Imaging"`
			Media   xaddr `xml:"Media"`
			PTZ     xaddr `xml:"PTZ"`
		} `xml:"Capabilities"`
	}
	if err := c.call(ctx, c.DeviceURL(), r, "GetCapabilitiesResponse", &resp); err != nil {
		return Services{}, err
	}
	caps := resp.Capabilities
	return Services{
		Device:      c.rebase(caps.Device.XAddr),
		Media:       c.rebase(caps.Media.XAddr),
		Events:      c.rebase(caps.Events.XAddr),
		WSPullPoint: xmlBool(caps.Events.WSPullPointSupport),
		PTZ:         c.rebase(caps.PTZ.XAddr),
		Imaging:     c.rebase(caps.Imaging.XAddr),
		Source:      "GetCapabilities",
	}, nil
}
