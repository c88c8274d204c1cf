package onvif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// WS-Discovery (April 2005, as ONVIF uses it) names.
const (
	nsDiscovery = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsWSA2004   = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsNetwork   = "http://www.onvif.org/ver10/network/wsdl"
	// DiscoveryAddr is the WS-Discovery multicast group and port.
	DiscoveryAddr = "239.255.255.250:3702"
)

// maxDatagram bounds a ProbeMatches we read; one UDP datagram.
const maxDatagram = 64 << 10

// Found is a device that answered a discovery Probe.
type Found struct {
	XAddrs      []string // device service URLs, as the device reported them
	Scopes      []string
	Types       []string // "dn:NetworkVideoTransmitter", "tds:Device", ...
	EndpointRef string   // the device's stable id ("urn:uuid:...")
	// Name, Hardware and Location come from the onvif://www.onvif.org/
	// name/, hardware/ and location/ scopes, URL-unescaped; several
	// location scopes are joined with spaces.
	Name, Hardware, Location string
}

// DiscoverOptions configures Discover. Zero values take the defaults.
type DiscoverOptions struct {
	// Interface sends the Probe out of this interface. Default: nil, the
	// one the routing table picks for the group.
	Interface *net.Interface
	// Addr is where the Probe goes. Default: "239.255.255.250:3702".
	// Tests pass a unicast 127.0.0.1:port.
	Addr string
	// Timeout is how long to collect answers. Default: 3 s.
	Timeout time.Duration
	// OnFound, when set, is called with each new device as it answers,
	// from Discover's own goroutine, before Discover returns.
	OnFound func(Found)
	// Retries is how many times the Probe is repeated, spread over the
	// first half of Timeout, since UDP multicast gets lost. Default: 1
	// (SOAP-over-UDP's repeat count); negative: none.
	Retries int
}

// Discover sends WS-Discovery Probes for ONVIF cameras and collects the
// answers until the timeout. Each device is reported once, keyed by its
// endpoint reference. When ctx ends first, it returns what it found with
// ctx's error.
func Discover(ctx context.Context, o DiscoverOptions) ([]Found, error) {
	if o.Addr == "" {
		o.Addr = DiscoveryAddr
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 1
	}
	dst, err := net.ResolveUDPAddr("udp4", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("onvif discovery: bad address %q: %w", o.Addr, err)
	}
	conn, err := listenDiscovery(ctx, o.Interface)
	if err != nil {
		return nil, fmt.Errorf("onvif discovery: %w", err)
	}
	defer conn.Close()

	// Two Probes per round: cameras match NetworkVideoTransmitter, while
	// some older devices and NVRs answer only tds:Device.
	var probes [][]byte
	ids := map[string]bool{}
	for _, typ := range []string{"dn:NetworkVideoTransmitter", "tds:Device"} {
		id := "uuid:" + newUUID()
		ids[id] = true
		probes = append(probes, probeMessage(id, typ))
	}
	send := func() error {
		for _, p := range probes {
			if _, err := conn.WriteToUDP(p, dst); err != nil {
				return fmt.Errorf("onvif discovery: send probe to %s: %w", dst, err)
			}
		}
		return nil
	}
	if err := send(); err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(o.Timeout)
	var resend []time.Time
	for i := 1; i <= max(o.Retries, 0); i++ {
		resend = append(resend, start.Add(o.Timeout/2*time.Duration(i)/time.Duration(o.Retries)))
	}
	// A read blocked on the socket wakes when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	var found []Found
	seen := map[string]bool{}
	buf := make([]byte, maxDatagram)
	for {
		wake := deadline
		if len(resend) > 0 && resend[0].Before(wake) {
			wake = resend[0]
		}
		if err := conn.SetReadDeadline(wake); err != nil {
			return found, fmt.Errorf("onvif discovery: %w", err)
		}
		// Checked after setting the deadline: had ctx ended before, this
		// sees it; if it ends after, the AfterFunc's deadline wins.
		if ctx.Err() != nil {
			return found, ctx.Err()
		}
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return found, fmt.Errorf("onvif discovery: %w", err)
			}
			if ctx.Err() != nil {
				return found, ctx.Err()
			}
			if !time.Now().Before(deadline) {
				return found, nil
			}
			if len(resend) > 0 && !time.Now().Before(resend[0]) {
				resend = resend[1:]
				if err := send(); err != nil {
					return found, err
				}
			}
			continue
		}
		matches, err := parseProbeMatches(buf[:n], ids)
		if err != nil {
			continue // not for us, or not WS-Discovery: others share the port
		}
		for _, f := range matches {
			key := f.EndpointRef
			if key == "" {
				key = strings.Join(f.XAddrs, " ")
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			found = append(found, f)
			if o.OnFound != nil {
				o.OnFound(f)
			}
		}
	}
}

// listenDiscovery opens the socket Probes leave from and answers arrive
// on (they come back unicast). With an interface, it binds to the
// interface's IPv4 address and, where the platform allows, also sets
// IP_MULTICAST_IF, so the Probe leaves there whatever the routes say.
func listenDiscovery(ctx context.Context, ifi *net.Interface) (*net.UDPConn, error) {
	laddr := &net.UDPAddr{IP: net.IPv4zero}
	lc := net.ListenConfig{}
	if ifi != nil {
		ip, err := interfaceIPv4(ifi)
		if err != nil {
			return nil, err
		}
		laddr.IP = ip
		lc.Control = multicastIfControl(ifi.Index)
	}
	pc, err := lc.ListenPacket(ctx, "udp4", laddr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func interfaceIPv4(ifi *net.Interface) (net.IP, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.To4(), nil
		}
	}
	return nil, fmt.Errorf("interface %s has no IPv4 address", ifi.Name)
}

// probeMessage is a WS-Discovery Probe for one device type.
func probeMessage(id, typ string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsWSA2004 + `" xmlns:d="` + nsDiscovery + `"` +
		` xmlns:dn="` + nsNetwork + `" xmlns:tds="` + nsDevice + `">` +
		`<s:Header><a:Action s:mustUnderstand="1">` + nsDiscovery + `/Probe</a:Action>` +
		`<a:MessageID>` + id + `</a:MessageID>` +
		`<a:ReplyTo><a:Address>` + nsWSA2004 + `/role/anonymous</a:Address></a:ReplyTo>` +
		`<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>` +
		`<s:Body><d:Probe><d:Types>` + typ + `</d:Types></d:Probe></s:Body></s:Envelope>`)
}

// xmlProbeMatches is a ProbeMatches envelope.
type xmlProbeMatches struct {
	Header struct {
		RelatesTo string `xml:"RelatesTo"`
	} `xml:"Header"`
	Body struct {
		ProbeMatches *struct {
			ProbeMatch []struct {
				EndpointReference struct {
					Address string `xml:"Address"`
				} `xml:"EndpointReference"`
				Types  string `xml:"Types"`
				Scopes string `xml:"Scopes"`
				XAddrs string `xml:"XAddrs"`
			} `xml:"ProbeMatch"`
		} `xml:"ProbeMatches"`
	} `xml:"Body"`
}

// maxListItems bounds the XAddrs, Scopes and Types we keep of one match.
const maxListItems = 32

// parseProbeMatches decodes a ProbeMatches datagram. ids are the
// MessageIDs of our Probes: an answer relating to another message is
// someone else's, and is refused. An answer without RelatesTo is
// accepted, since some cameras leave it out.
func parseProbeMatches(data []byte, ids map[string]bool) ([]Found, error) {
	if len(data) > maxDatagram {
		return nil, errors.New("datagram too large")
	}
	var x xmlProbeMatches
	if err := newDecoder(data).Decode(&x); err != nil {
		return nil, err
	}
	if x.Body.ProbeMatches == nil {
		return nil, errors.New("not a ProbeMatches")
	}
	if rel := strings.TrimSpace(x.Header.RelatesTo); rel != "" && ids != nil && !ids[rel] {
		return nil, errors.New("answers another probe")
	}
	var out []Found
	for i, m := range x.Body.ProbeMatches.ProbeMatch {
		if i == maxListItems {
			break
		}
		f := Found{
			EndpointRef: clean(m.EndpointReference.Address, 200),
			XAddrs:      fields(m.XAddrs),
			Scopes:      fields(m.Scopes),
			Types:       fields(m.Types),
		}
		var loc []string
		for _, s := range f.Scopes {
			switch {
			case f.Name == "" && scopeValue(s, "name/") != "":
				f.Name = scopeValue(s, "name/")
			case f.Hardware == "" && scopeValue(s, "hardware/") != "":
				f.Hardware = scopeValue(s, "hardware/")
			case scopeValue(s, "location/") != "":
				loc = append(loc, scopeValue(s, "location/"))
			}
		}
		f.Location = strings.Join(loc, " ")
		if len(f.XAddrs) > 0 || f.EndpointRef != "" {
			out = append(out, f)
		}
	}
	return out, nil
}

// fields splits a space-separated list, bounded and cleaned.
func fields(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if len(out) == maxListItems {
			break
		}
		out = append(out, clean(f, 300))
	}
	return out
}

// scopeValue returns the unescaped rest of an onvif://www.onvif.org/
// scope of a kind ("name/"), or "".
func scopeValue(scope, kind string) string {
	const prefix = "onvif://www.onvif.org/"
	if len(scope) <= len(prefix)+len(kind) || !strings.EqualFold(scope[:len(prefix)+len(kind)], prefix+kind) {
		return ""
	}
	v := scope[len(prefix)+len(kind):]
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	return clean(v, 120)
}
