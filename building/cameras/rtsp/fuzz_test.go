package rtsp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadResponse: no input makes the response parser panic or break
// its limits; what it accepts has a real status and a bounded body, and
// its Transport and Session headers parse without panicking.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"RTSP/1.0 200 OK\r\nCSeq: 3\r\nPublic: OPTIONS, PLAY\r\n\r\n",
		"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n",
		"RTSP/1.0 401 Unauthorized\nCSeq: 2\nWWW-Authenticate: Digest realm=\"r\",\n  nonce=\"n\"\n\n",
		"RTSP/1.0 200 OK\r\nCSeq: 4\r\nTransport: RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1A2B3C4D\r\nSession: 12345678;timeout=60\r\n\r\n",
		"RTSP/1.0 200 OK\r\nCSeq: 5\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: x\r\n\r\n",
		"RTSP/1.0 454\r\nCSeq: 9\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
		"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newMsgReader(bytes.NewReader(data), 2048)
		m, err := r.next()
		if err != nil {
			return
		}
		if m.resp == nil {
			return
		}
		if m.resp.code < 100 || m.resp.code > 599 || m.resp.cseq < 0 || len(m.resp.body) > maxBody {
			t.Fatalf("accepted a bad response: %+v", m.resp)
		}
		if !printable(m.resp.reason) {
			t.Fatalf("reason with control characters: %q", m.resp.reason)
		}
		_, _ = parseTransport(m.resp.header.get("transport"))
		if id, _, err := parseSession(m.resp.header.get("session")); err == nil && !headerSafe(id) {
			t.Fatalf("session id %q would split our requests", id)
		}
		_ = contentBase(m.resp.header, "rtsp://h/p")
	})
}

// FuzzInterleaved: any mix of '$' frames, responses, server requests and
// junk reads without panics, and no frame exceeds MaxPacket.
func FuzzInterleaved(f *testing.F) {
	f.Add([]byte("$\x00\x00\x03abcRTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n$\x01\x00\x00\r\nSET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 40\r\nContent-Length: 2\r\n\r\nhi$\x00\x00\x02de"))
	f.Add([]byte("$\x00\xff\xffxx"))
	f.Add([]byte("$\x00\x00"))
	f.Add([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	f.Add([]byte("\x80\x60\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxPacket = 1500
		r := newMsgReader(bytes.NewReader(data), maxPacket)
		for range 1000 {
			m, err := r.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrPacketTooLarge) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			n := 0
			if m.frame {
				n++
				if len(m.payload) > maxPacket {
					t.Fatalf("frame of %d bytes accepted", len(m.payload))
				}
			}
			if m.resp != nil {
				n++
			}
			if m.req != nil {
				n++
			}
			if n != 1 {
				t.Fatalf("message is %d things at once: %+v", n, m)
			}
		}
	})
}

// FuzzParseSDP: no SDP makes ParseSDP panic, and every media it returns
// has a usable control URL and a valid payload type.
func FuzzParseSDP(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sdp"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, "rtsp://10.0.0.1/cam/")
		}
	}
	f.Add([]byte("v=0\r\nm=video 0 RTP/AVP 97 96\r\na=rtpmap:97 h265/90000\r\na=fmtp:97 a=b;c\r\n"), "rtsp://h/p?x=1")
	f.Add([]byte("v=0\r\na=control:/abs\r\nm=video 0 RTP/AVP 26\r\na=control:*\r\n"), "rtsp://h")
	f.Fuzz(func(t *testing.T, body []byte, base string) {
		ms, err := ParseSDP(body, base)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if len(ms) > maxMedia {
			t.Fatalf("%d media", len(ms))
		}
		for _, m := range ms {
			if m.PayloadType > 127 || !urlSafe(m.Control) || m.ClockRate < 0 || m.Type == "" || len(m.Fmtp) > maxFmtpParams {
				t.Fatalf("bad media %+v", m)
			}
		}
	})
}

// FuzzDigestChallenge: no WWW-Authenticate value makes the challenge
// parser panic, and no challenge we accept makes us send a header line
// with CR, LF or other control characters.
func FuzzDigestChallenge(f *testing.F) {
	for _, s := range []string{
		`Digest realm="IP Camera(23456)", nonce="a1b2", stale="FALSE"`,
		`Digest realm="r", nonce="n", qop="auth,auth-int", opaque="o", algorithm=MD5-sess`,
		`Basic realm="a, b", Digest realm=r,nonce=n , algorithm=SHA-256`,
		`Digest realm="say \"hi\"", nonce="x\\y"`,
		`Negotiate YWJj==, Basic realm=x`,
		`Digest realm="open`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		chs, err := parseChallenges([]string{v})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		a, err := newAuthenticator(chs, "user", "pass")
		if err != nil {
			return
		}
		for range 2 {
			if h := a.header("DESCRIBE", "rtsp://h/cam"); !headerSafe(h) {
				t.Fatalf("Authorization %q has control characters", h)
			}
		}
		a.renew(chs)
	})
}
