package onviftest

import (
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
)

// Advert is what a discovery responder answers a Probe with.
type Advert struct {
	// EndpointRef is the device's stable id. Default: a random urn:uuid.
	EndpointRef string
	// Types. Default: dn:NetworkVideoTransmitter tds:Device.
	Types []string
	// Scopes. Default: a name, hardware and location scope.
	Scopes []string
	// XAddrs are the device service URLs.
	XAddrs []string
	// Interface is the interface to join a multicast group on; nil: the
	// system's choice. Unused for a unicast address.
	Interface *net.Interface
	// Drop ignores the first Drop Probes, as if they were lost.
	Drop int
}

// Responder answers WS-Discovery Probes on a UDP socket.
type Responder struct {
	conn *net.UDPConn
	adv  Advert
	wg   sync.WaitGroup

	mu     sync.Mutex
	probes int
	seq    int
}

// StartDiscovery answers Probes sent to addr: a multicast group and port
// ("239.255.255.250:3702") is joined; anything else ("127.0.0.1:0") is a
// unicast listener.
func StartDiscovery(addr string, a Advert) (*Responder, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, err
	}
	var conn *net.UDPConn
	if ua.IP.IsMulticast() {
		conn, err = net.ListenMulticastUDP("udp4", a.Interface, ua)
	} else {
		conn, err = net.ListenUDP("udp4", ua)
	}
	if err != nil {
		return nil, err
	}
	if a.EndpointRef == "" {
		a.EndpointRef = "urn:uuid:" + uuid()
	}
	if a.Types == nil {
		a.Types = []string{"dn:NetworkVideoTransmitter", "tds:Device"}
	}
	if a.Scopes == nil {
		a.Scopes = []string{
			"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
			"onvif://www.onvif.org/Profile/T", "onvif://www.onvif.org/name/Lobby%20Camera",
			"onvif://www.onvif.org/hardware/OT-2146", "onvif://www.onvif.org/location/city/Shanghai",
		}
	}
	r := &Responder{conn: conn, adv: a}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr returns the socket's address (for a unicast responder, where to
// send Probes).
func (r *Responder) Addr() string { return r.conn.LocalAddr().String() }

// Probes returns how many Probes arrived.
func (r *Responder) Probes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.probes
}

// Close stops the responder.
func (r *Responder) Close() error {
	err := r.conn.Close()
	r.wg.Wait()
	return err
}

// probe is the part of a Probe the responder reads.
type probe struct {
	Header struct {
		MessageID string `xml:"MessageID"`
	} `xml:"Header"`
	Body struct {
		Probe *struct {
			Types string `xml:"Types"`
		} `xml:"Probe"`
	} `xml:"Body"`
}

func (r *Responder) serve() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		var p probe
		if xml.Unmarshal(buf[:n], &p) != nil || p.Body.Probe == nil {
			continue
		}
		r.mu.Lock()
		r.probes++
		r.seq++
		seq, lost := r.seq, r.probes <= r.adv.Drop
		r.mu.Unlock()
		if lost || !r.matches(p.Body.Probe.Types) {
			continue
		}
		_, _ = r.conn.WriteToUDP(r.probeMatches(strings.TrimSpace(p.Header.MessageID), seq), from)
	}
}

// matches applies WS-Discovery's rule: every type asked for must be one
// of ours (compared by local name, as prefixes are the sender's own).
func (r *Responder) matches(types string) bool {
	local := func(s string) string {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			return s[i+1:]
		}
		return s
	}
	for _, want := range strings.Fields(types) {
		found := false
		for _, have := range r.adv.Types {
			found = found || local(have) == local(want)
		}
		if !found {
			return false
		}
	}
	return true
}

func (r *Responder) probeMatches(relatesTo string, seq int) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
		`xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
		`<SOAP-ENV:Header><wsa:MessageID>uuid:` + uuid() + `</wsa:MessageID><wsa:RelatesTo>` + esc(relatesTo) + `</wsa:RelatesTo>` +
		`<wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
		`<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>` +
		fmt.Sprintf(`<wsdd:AppSequence InstanceId="1" MessageNumber="%d"></wsdd:AppSequence></SOAP-ENV:Header>`, seq) +
		`<SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch><wsa:EndpointReference><wsa:Address>` + esc(r.adv.EndpointRef) +
		`</wsa:Address></wsa:EndpointReference><wsdd:Types>` + esc(strings.Join(r.adv.Types, " ")) + `</wsdd:Types>` +
		`<wsdd:Scopes>` + esc(strings.Join(r.adv.Scopes, " ")) + `</wsdd:Scopes>` +
		`<wsdd:XAddrs>` + esc(strings.Join(r.adv.XAddrs, " ")) + `</wsdd:XAddrs>` +
		`<wsdd:MetadataVersion>10</wsdd:MetadataVersion></wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
