package rtsp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// scriptMsg is one message a scripted server read: its first line and
// CSeq.
type scriptMsg struct{ first, cseq string }

// readScriptMsg reads one client message (request or response).
func readScriptMsg(br *bufio.Reader) (scriptMsg, error) {
	var m scriptMsg
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "" && m.first == "":
			continue
		case line == "":
			return m, nil
		case m.first == "":
			m.first = line
		case strings.HasPrefix(strings.ToLower(line), "cseq:"):
			m.cseq = strings.TrimSpace(line[5:])
		}
	}
}

func frame(ch byte, seq uint16) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq}, Payload: []byte{byte(seq)}}
	b, _ := p.Marshal()
	return append([]byte{'$', ch, 0, byte(len(b))}, b...)
}

// TestDemuxScripted plays against a scripted server that mixes RTP on
// non-default channels, RTCP, an unknown channel, a request of its own
// and the answer to our keepalive in one TCP stream.
func TestDemuxScripted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var answered scriptMsg
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		w := func(s string) { _, _ = c.Write([]byte(s)) }
		sdp := "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:video\r\n"
		for _, want := range []string{"OPTIONS", "DESCRIBE", "SETUP", "PLAY"} {
			m, err := readScriptMsg(br)
			if err != nil || !strings.HasPrefix(m.first, want+" ") {
				t.Errorf("server got %q (%v), want %s", m.first, err, want)
				return
			}
			switch want {
			case "OPTIONS":
				w("RTSP/1.0 200 OK\r\nCSeq: " + m.cseq + "\r\nPublic: DESCRIBE, SETUP, PLAY, GET_PARAMETER\r\n\r\n")
			case "DESCRIBE":
				w(fmt.Sprintf("RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", m.cseq, len(sdp), sdp))
			case "SETUP":
				if !strings.Contains(m.first, "/cam/video ") {
					t.Errorf("SETUP for %q", m.first)
				}
				w("RTSP/1.0 200 OK\r\nCSeq: " + m.cseq + "\r\nTransport: RTP/AVP/TCP;unicast;interleaved=4-5\r\nSession: s1;timeout=1\r\n\r\n")
			case "PLAY":
				w("RTSP/1.0 200 OK\r\nCSeq: " + m.cseq + "\r\nSession: s1\r\n\r\n")
			}
		}
		var b bytes.Buffer
		for seq := range uint16(5) {
			b.Write(frame(4, seq))
		}
		b.Write(frame(5, 100)) // RTCP channel: dropped
		b.Write(frame(9, 101)) // nobody's channel: dropped
		b.WriteString("OPTIONS * RTSP/1.0\r\nCSeq: 77\r\n\r\n")
		for seq := uint16(5); seq < 10; seq++ {
			b.Write(frame(4, seq))
		}
		_, _ = c.Write(b.Bytes())
		if answered, err = readScriptMsg(br); err != nil {
			return
		}
		ka, err := readScriptMsg(br) // the keepalive, 500 ms in
		if err != nil || !strings.HasPrefix(ka.first, "GET_PARAMETER ") {
			t.Errorf("server got %q (%v), want GET_PARAMETER", ka.first, err)
			return
		}
		b.Reset()
		b.Write(frame(4, 10))
		b.WriteString("RTSP/1.0 200 OK\r\nCSeq: " + ka.cseq + "\r\nSession: s1\r\nContent-Length: 0\r\n\r\n")
		b.Write(frame(4, 11))
		_, _ = c.Write(b.Bytes())
		_, _ = readScriptMsg(br) // until the client goes
	})

	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, "rtsp://"+ln.Addr().String()+"/cam", Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{want: 12, cancel: cancel}
	if err := s.Play(ctx, c.on); !errors.Is(err, context.Canceled) {
		t.Fatalf("Play: %v", err)
	}
	s.Close()
	ln.Close()
	wg.Wait()
	got := c.got()
	for i, p := range got {
		if int(p.SequenceNumber) != i {
			t.Fatalf("packet %d has seq %d; all: %v", i, p.SequenceNumber, got)
		}
	}
	if len(got) != 12 {
		t.Errorf("%d packets, want 12", len(got))
	}
	if answered.first != "RTSP/1.0 200 OK" || answered.cseq != "77" {
		t.Errorf("our answer to the server's OPTIONS: %+v", answered)
	}
	if strings.Contains(logs.String(), "keepalive") || strings.Contains(logs.String(), "nobody waits") {
		t.Errorf("the keepalive answer went astray:\n%s", logs.String())
	}
}
