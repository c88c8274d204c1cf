package rtsp

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		code  int
		cseq  int
		hdr   header
		body  string
		isErr error
	}{
		{name: "plain", in: "RTSP/1.0 200 OK\r\nCSeq: 3\r\nPublic: OPTIONS, PLAY\r\n\r\n",
			code: 200, cseq: 3, hdr: header{"cseq": {"3"}, "public": {"OPTIONS, PLAY"}}},
		{name: "body", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nv=0\r\n",
			code: 200, cseq: 1, hdr: header{"cseq": {"1"}, "content-length": {"5"}}, body: "v=0\r\n"},
		{name: "LF only, folded, repeated", in: "RTSP/1.0 401 Unauthorized\nCSeq: 2\nWWW-Authenticate: Digest realm=\"r\",\n  nonce=\"n\"\nWWW-Authenticate: Basic realm=\"r\"\n\n",
			code: 401, cseq: 2, hdr: header{"cseq": {"2"}, "www-authenticate": {`Digest realm="r", nonce="n"`, `Basic realm="r"`}}},
		{name: "no reason, RTSP/1.1", in: "RTSP/1.1 454\r\nCSeq: 9\r\n\r\n", code: 454, cseq: 9, hdr: header{"cseq": {"9"}}},
		{name: "leading CRLF", in: "\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n", code: 200, cseq: 4, hdr: header{"cseq": {"4"}}},
		{name: "HTTP", in: "HTTP/1.1 200 OK\r\n\r\n", isErr: ErrMalformed},
		{name: "RTSP/2.0", in: "RTSP/2.0 200 OK\r\nCSeq: 1\r\n\r\n", isErr: ErrMalformed},
		{name: "bad code", in: "RTSP/1.0 2x0 OK\r\nCSeq: 1\r\n\r\n", isErr: ErrMalformed},
		{name: "code out of range", in: "RTSP/1.0 999 OK\r\nCSeq: 1\r\n\r\n", isErr: ErrMalformed},
		{name: "no CSeq", in: "RTSP/1.0 200 OK\r\n\r\n", isErr: ErrMalformed},
		{name: "two CSeq", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nCSeq: 2\r\n\r\n", isErr: ErrMalformed},
		{name: "bad CSeq", in: "RTSP/1.0 200 OK\r\nCSeq: one\r\n\r\n", isErr: ErrMalformed},
		{name: "header without colon", in: "RTSP/1.0 200 OK\r\nCSeq 1\r\n\r\n", isErr: ErrMalformed},
		{name: "fold first", in: "RTSP/1.0 200 OK\r\n folded\r\n\r\n", isErr: ErrMalformed},
		{name: "control char", in: "RTSP/1.0 200 OK\r\nCSeq: 1\x00\r\n\r\n", isErr: ErrMalformed},
		{name: "negative length", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n", isErr: ErrMalformed},
		{name: "huge length", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", isErr: ErrMalformed},
		{name: "conflicting lengths", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", isErr: ErrMalformed},
		{name: "header too long", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", isErr: ErrMalformed},
		{name: "too many headers", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\n" + strings.Repeat("X: y\r\n", 200) + "\r\n", isErr: ErrMalformed},
		{name: "endless CRLF", in: strings.Repeat("\r\n", 100), isErr: ErrMalformed},
		{name: "short body", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\nabc", isErr: io.ErrUnexpectedEOF},
		{name: "cut header", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\n", isErr: io.ErrUnexpectedEOF},
		{name: "binary", in: "\x16\x03\x01\x00\xa5", isErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newMsgReader(strings.NewReader(tt.in), DefaultMaxPacket)
			m, err := r.next()
			if tt.isErr != nil {
				if !errors.Is(err, tt.isErr) {
					t.Fatalf("next = %+v, %v; want %v", m, err, tt.isErr)
				}
				return
			}
			if err != nil || m.resp == nil {
				t.Fatalf("next = %+v, %v", m, err)
			}
			if m.resp.code != tt.code || m.resp.cseq != tt.cseq || string(m.resp.body) != tt.body || !reflect.DeepEqual(m.resp.header, tt.hdr) {
				t.Errorf("got %d cseq %d %q %v, want %d cseq %d %q %v", m.resp.code, m.resp.cseq, m.resp.body, m.resp.header,
					tt.code, tt.cseq, tt.body, tt.hdr)
			}
		})
	}
}

// TestInterleavedMix: frames, responses and server requests share one
// stream, in any order (RFC 2326 10.12).
func TestInterleavedMix(t *testing.T) {
	in := "$\x00\x00\x03abc" +
		"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n" +
		"$\x01\x00\x00" +
		"\r\n" +
		"SET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 40\r\nContent-Length: 2\r\n\r\nhi" +
		"$\x00\x00\x02de"
	r := newMsgReader(strings.NewReader(in), 10)
	var got []string
	for {
		m, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case m.frame:
			got = append(got, string(rune('0'+m.channel))+":"+string(m.payload))
		case m.resp != nil:
			got = append(got, "resp")
		default:
			got = append(got, m.req.method+" "+m.req.cseq)
		}
	}
	want := []string{"0:abc", "resp", "1:", "SET_PARAMETER 40", "0:de"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	r = newMsgReader(strings.NewReader("$\x00\x00\x0bhello world"), 10)
	if _, err := r.next(); !errors.Is(err, ErrPacketTooLarge) || !strings.Contains(err.Error(), "11 bytes, limit 10") {
		t.Errorf("frame over MaxPacket: %v, want ErrPacketTooLarge naming sizes", err)
	}
	r = newMsgReader(strings.NewReader("$\x00\x00\x05abc"), 10)
	if _, err := r.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut frame: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestWriteRequest(t *testing.T) {
	var b bytes.Buffer
	writeRequest(&b, "SETUP", "rtsp://h/cam/trackID=0", 3, []string{"User-Agent", "ua", "Session", "", "Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"})
	want := "SETUP rtsp://h/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: ua\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestParseTransport(t *testing.T) {
	tests := []struct {
		in      string
		want    transportSpec
		wantErr bool
	}{
		{in: "RTP/AVP/TCP;unicast;interleaved=2-3", want: transportSpec{tcp: true, interleaved: [2]int{2, 3}, clientPort: [2]int{-1, -1}, serverPort: [2]int{-1, -1}}},
		{in: "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1A2b3C4d;mode=\"PLAY\"",
			want: transportSpec{interleaved: [2]int{-1, -1}, clientPort: [2]int{5000, 5001}, serverPort: [2]int{6970, 6971}, ssrc: 0x1a2b3c4d, hasSSRC: true}},
		{in: "RTP/AVP/UDP;unicast;client_port=5000;server_port=7000;ssrc=12;source=::ffff:10.0.0.1",
			want: transportSpec{interleaved: [2]int{-1, -1}, clientPort: [2]int{5000, 5001}, serverPort: [2]int{7000, 7001}, ssrc: 0x12, hasSSRC: true,
				source: netip.MustParseAddr("10.0.0.1")}},
		{in: "RTP/AVP;unicast;client_port=5000-5001;ssrc=nothex", want: transportSpec{interleaved: [2]int{-1, -1}, clientPort: [2]int{5000, 5001}, serverPort: [2]int{-1, -1}}},
		{in: "RTP/AVP/TCP;interleaved=0-1, RTP/AVP;client_port=1-2", want: transportSpec{tcp: true, interleaved: [2]int{0, 1}, clientPort: [2]int{-1, -1}, serverPort: [2]int{-1, -1}}},
		{in: "", wantErr: true},
		{in: "RAW/RAW/UDP;unicast", wantErr: true},
		{in: "RTP/AVP;multicast;destination=224.2.0.1", wantErr: true},
		{in: "RTP/AVP/TCP;interleaved=300-301", wantErr: true},
		{in: "RTP/AVP;client_port=0-1", wantErr: true},
		{in: "RTP/AVP;server_port=x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseTransport(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("parseTransport(%q) = %+v, %v; want ErrMalformed", tt.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseTransport(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSession(t *testing.T) {
	tests := []struct {
		in      string
		id      string
		timeout time.Duration
		wantErr bool
	}{
		{in: "12345678", id: "12345678", timeout: 60 * time.Second},
		{in: "abc;timeout=2", id: "abc", timeout: 2 * time.Second},
		{in: " abc ; Timeout = 30 ", id: "abc", timeout: 30 * time.Second},
		{in: "abc;timeout=0", id: "abc", timeout: 60 * time.Second},
		{in: "", wantErr: true},
		{in: ";timeout=5", wantErr: true},
		{in: "abc;timeout=soon", wantErr: true},
		{in: strings.Repeat("x", 300), wantErr: true},
	}
	for _, tt := range tests {
		id, timeout, err := parseSession(tt.in)
		if tt.wantErr != (err != nil) || id != tt.id || timeout != tt.timeout {
			t.Errorf("parseSession(%q) = %q, %v, %v", tt.in, id, timeout, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, time.Second, time.Second, 5 * time.Second, 10 * time.Second, time.Minute, time.Minute}
	for attempt, w := range want {
		if got := Backoff(attempt); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", attempt, got, w)
		}
	}
	if Backoff(-1) != time.Second || Backoff(1000) != time.Minute {
		t.Errorf("Backoff(-1) = %v, Backoff(1000) = %v", Backoff(-1), Backoff(1000))
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		raw, url, addr, user, pass string
		o                          Options
	}{
		{raw: "rtsp://cam.local/live", url: "rtsp://cam.local/live", addr: "cam.local:554"},
		{raw: "rtsp://u:p%40ss@10.0.0.9:8554/a%20b?x=1#frag", url: "rtsp://10.0.0.9:8554/a%20b?x=1", addr: "10.0.0.9:8554", user: "u", pass: "p@ss"},
		{raw: "rtsp://u:p@[::1]:554", url: "rtsp://[::1]:554", addr: "[::1]:554", user: "o", pass: "q", o: Options{Username: "o", Password: "q"}},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.raw, tt.o)
		if err != nil || got.url != tt.url || got.addr != tt.addr || got.user != tt.user || got.pass != tt.pass {
			t.Errorf("parseTarget(%q) = %+v, %v", tt.raw, got, err)
		}
	}
	if _, err := parseTarget("rtsp://u:secret@h:bad/x", Options{}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad port: %v (must fail without quoting the password)", err)
	}
}
