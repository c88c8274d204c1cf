package rtsptest

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// handle answers one request; false closes the connection.
func (c *conn) handle(req *request) bool {
	m, track := c.s.lookup(req.url)
	if m != nil && m.cfg.Fault == FaultGarbage {
		_ = c.write([]byte("\x16\x03\x01\x00\xa5 this is not RTSP\r\n\r\n"))
		return false
	}
	if req.cseq == "" {
		c.reply(400, req, nil, nil)
		return true
	}
	if req.method == "OPTIONS" {
		public := "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
		if m != nil && m.cfg.NoGetParameter {
			public = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, SET_PARAMETER"
		}
		c.reply(200, req, []string{"Public", public}, nil)
		return true
	}
	if m == nil {
		c.reply(404, req, nil, nil)
		return true
	}
	if m.cfg.User != "" && !c.authorized(req, m) {
		return true
	}
	switch req.method {
	case "DESCRIBE":
		base := strings.TrimSuffix(req.url, "/") + "/"
		c.reply(200, req, []string{"Content-Type", "application/sdp", "Content-Base", base}, []byte(m.sdp))
		return m.cfg.Fault != FaultCloseAfterDescribe
	case "SETUP":
		c.setup(req, m, track)
	case "PLAY":
		c.play(req)
	case "TEARDOWN":
		if ss := c.session(req); ss != nil {
			ss.m.leave(ss)
			delete(c.sessions, ss.id)
			c.reply(200, req, nil, nil)
		}
	case "GET_PARAMETER", "SET_PARAMETER":
		if req.h["session"] == "" || c.session(req) != nil {
			c.reply(200, req, nil, nil)
		}
	default:
		c.reply(501, req, nil, nil)
	}
	return true
}

// session finds the request's session, or answers 454.
func (c *conn) session(req *request) *session {
	id, _, _ := strings.Cut(req.h["session"], ";")
	ss := c.sessions[strings.TrimSpace(id)]
	if ss == nil {
		c.reply(454, req, nil, nil)
	}
	return ss
}

// setup sets up one track, over TCP when the client offers it first,
// else over UDP.
func (c *conn) setup(req *request, m *mount, track int) {
	if track < 0 {
		if len(m.pts) != 1 {
			c.reply(459, req, nil, nil)
			return
		}
		track = 0
	}
	var ss *session
	if req.h["session"] != "" {
		if ss = c.session(req); ss == nil {
			return
		}
		if ss.m != m || ss.playing {
			c.reply(455, req, nil, nil)
			return
		}
	} else {
		ss = &session{id: randomHex(8), c: c, m: m, tracks: make([]trackState, len(m.pts))}
	}
	tr, ok := chooseTransport(req.h["transport"], track)
	if !ok || !tr.tcp && m.cfg.Fault == FaultUDP461 {
		c.reply(461, req, nil, nil)
		return
	}
	var answer string
	if tr.tcp {
		answer = fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", tr.rtpCh, tr.rtpCh+1)
	} else {
		raddr, err := netip.ParseAddrPort(c.nc.RemoteAddr().String())
		if err != nil {
			c.reply(400, req, nil, nil)
			return
		}
		tr.client = netip.AddrPortFrom(raddr.Addr(), uint16(tr.clientPort))
		sp := c.s.rtp.LocalAddr().(*net.UDPAddr).Port
		answer = fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d;server_port=%d-%d",
			tr.clientPort, tr.clientPort+1, sp, sp+1)
		if m.cfg.SSRC != 0 {
			answer += fmt.Sprintf(";ssrc=%08X", m.cfg.SSRC)
		}
	}
	tr.setup = true
	ss.tracks[track] = tr
	c.sessions[ss.id] = ss
	c.reply(200, req, []string{"Transport", answer,
		"Session", fmt.Sprintf("%s;timeout=%d", ss.id, m.sessionTimeout())}, nil)
}

// chooseTransport takes the first unicast RTP transport the client
// offers.
func chooseTransport(v string, idx int) (trackState, bool) {
	for alt := range strings.SplitSeq(v, ",") {
		parts := strings.Split(alt, ";")
		spec := strings.ToUpper(strings.TrimSpace(parts[0]))
		if !strings.HasPrefix(spec, "RTP/AVP") {
			continue
		}
		tr := trackState{tcp: strings.HasSuffix(spec, "/TCP"), rtpCh: byte(2 * idx)}
		ok := true
		for _, p := range parts[1:] {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			first, _, _ := strings.Cut(val, "-")
			n, err := strconv.Atoi(first)
			switch strings.ToLower(k) {
			case "multicast":
				ok = false
			case "interleaved":
				ok = ok && err == nil && n >= 0 && n < 255
				tr.rtpCh = byte(n)
			case "client_port":
				ok = ok && err == nil && n > 0 && n < 65535
				tr.clientPort = n
			}
		}
		if ok && (tr.tcp || tr.clientPort > 0) {
			return tr, true
		}
	}
	return trackState{}, false
}

// play starts the session's packets, after its answer has gone out so
// no RTP can overtake it.
func (c *conn) play(req *request) {
	ss := c.session(req)
	if ss == nil {
		return
	}
	setUp := false
	for _, t := range ss.tracks {
		setUp = setUp || t.setup
	}
	if !setUp {
		c.reply(455, req, nil, nil)
		return
	}
	c.reply(200, req, []string{"Session", fmt.Sprintf("%s;timeout=%d", ss.id, ss.m.sessionTimeout()),
		"Range", "npt=0.000-"}, nil)
	if !ss.playing {
		ss.playing = true
		ss.m.join(ss)
	}
}
