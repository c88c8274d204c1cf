package voip

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// qualify sends one OPTIONS to binding b of extension n and waits for any
// answer (any status means the phone is there, as Asterisk's qualify
// counts it). It goes where the phone registered from, not to the host in
// its Contact (RFC 3581: a phone behind NAT is reachable only at its
// public source), and for TCP and TLS over the phone's own connection;
// when that connection is closed, gone is true and nothing is sent.
func (s *Service) qualify(n string, b *binding) (ok, gone bool) {
	s.mu.Lock()
	uri := *b.contact.Address.Clone()
	transport, source := b.Transport, b.Source
	s.mu.Unlock()

	if transport != "udp" {
		c, err := s.ua.TransportLayer().GetConnection(transport, source)
		if err != nil || c == nil {
			return false, true
		}
		_, _ = c.TryClose() // Get took a reference
	}
	req := s.newRequest(sip.OPTIONS, uri, n, transport, source)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QualifyTimeout)
	defer cancel()
	tx, err := s.ua.TransactionLayer().Request(ctx, req)
	if err != nil {
		s.log.Debug("sip qualify not sent", "extension", n, "contact", b.Contact, "err", err)
		return false, false
	}
	defer tx.Terminate()
	select {
	case <-tx.Responses():
		return true, false
	case <-tx.Done():
	case <-ctx.Done():
	case <-s.done:
	}
	return false, false
}

// newRequest builds an out-of-dialog request from civicd to extension n's
// contact uri, sent to source over transport.
func (s *Service) newRequest(method sip.RequestMethod, uri sip.Uri, n, transport, source string) *sip.Request {
	req := sip.NewRequest(method, uri)
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(source)
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(transport),
		Params:          sip.NewParams(),
	}
	if transport == "udp" {
		// The listener's own address, or the address the route to the
		// phone leaves from when it listens on every interface; sipgo
		// fills in the rest from the connection.
		via.Host, via.Port = s.localHostFor(hostOf(source)), s.udpPort
	}
	via.Params.Add("branch", sip.GenerateBranch())
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	from := &sip.FromHeader{DisplayName: "civicd", Address: sip.Uri{Scheme: "sip", User: "civicd", Host: s.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: n, Host: s.cfg.Domain}, Params: sip.NewParams()})
	callID := sip.CallIDHeader(sip.GenerateTagN(24) + "@" + s.cfg.Domain)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.NewHeader("User-Agent", "civicd"))
	contentLength := sip.ContentLengthHeader(0)
	req.AppendHeader(&contentLength)
	return req
}

// localHostFor returns our address as a phone at ip sees it: the listen
// host when there is one, else the source address the kernel would pick
// for the route to ip (no packet is sent).
func (s *Service) localHostFor(ip string) string {
	if s.viaHost != "" {
		return s.viaHost
	}
	c, err := net.DialTimeout("udp", net.JoinHostPort(ip, "9"), time.Second)
	if err != nil {
		return s.cfg.Domain
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}
