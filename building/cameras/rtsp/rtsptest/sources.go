package rtsptest

import (
	"bytes"
	"context"
	_ "embed" // the test clip
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// clip is the test clip, made with:
//
//	ffmpeg -f lavfi -i testsrc=size=160x120:rate=15 -frames:v 30 -c:v libx264 \
//	  -profile:v baseline -pix_fmt yuv420p \
//	  -x264-params keyint=15:min-keyint=15:scenecut=0:bframes=0:repeat-headers=1 \
//	  -bsf:v h264_mp4toannexb -f h264 clip.h264
//
//go:embed testdata/clip.h264
var clip []byte

// Clip returns a copy of the embedded test clip: 2 s of H.264 in Annex B
// (constrained baseline, 160x120, 15 fps, 30 pictures, an IDR with SPS
// and PPS every 15), small enough for any test to loop.
func Clip() []byte { return bytes.Clone(clip) }

// Payload returns packet i's payload in a Packets source: size bytes
// that differ from packet to packet, so a test can check each one.
func Payload(i, size int) []byte {
	return fill(make([]byte, size), i)
}

func fill(b []byte, i int) []byte {
	for k := range b {
		b[k] = byte(i*7 + k)
	}
	return b
}

// Packets returns a source that writes n packets (forever when n <= 0)
// of payload type pt, packet i with Payload(i, size), sequence number i
// and the marker bit on every packet, one per interval (back to back
// when interval is 0), and then returns.
func Packets(n int, pt uint8, size int, interval time.Duration) SourceFunc {
	return func(ctx context.Context, write func(*rtp.Packet) error) error {
		var tick <-chan time.Time
		if interval > 0 {
			t := time.NewTicker(interval)
			defer t.Stop()
			tick = t.C
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: 0x5eed, Marker: true}}
		buf := make([]byte, size) // write copies it out before returning
		for i := 0; n <= 0 || i < n; i++ {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return nil
				}
			}
			p.SequenceNumber, p.Timestamp, p.Payload = uint16(i), uint32(i)*3000, fill(buf, i)
			if err := write(p); err != nil {
				return nil
			}
		}
		return nil
	}
}

// H264 is an H.264 stream to serve in a loop, as RTP (RFC 6184).
type H264 struct {
	aus      [][][]byte // access units, each a list of NAL units
	sps, pps []byte
	fps      int
}

// mtu is the largest RTP payload H264 sends; bigger NAL units go as FU-A.
const mtu = 1200

// NewH264 splits an Annex B stream into access units; fps sets the
// timestamps (and the pace, when paced). The stream must carry an SPS
// and a PPS.
func NewH264(annexB []byte, fps int) (*H264, error) {
	if fps <= 0 {
		return nil, errors.New("rtsptest: fps must be positive")
	}
	h := &H264{fps: fps}
	var au [][]byte
	prevVCL := false
	for _, nal := range splitAnnexB(annexB) {
		typ := nal[0] & 0x1f
		vcl := typ >= 1 && typ <= 5
		// A picture starts at a non-VCL NAL after a VCL one, or at a
		// slice with first_mb_in_slice 0 (its first bit set).
		if prevVCL && (!vcl || len(nal) > 1 && nal[1]&0x80 != 0) {
			h.aus = append(h.aus, au)
			au = nil
		}
		switch typ {
		case 7:
			h.sps = nal
		case 8:
			h.pps = nal
		}
		au = append(au, nal)
		prevVCL = vcl
	}
	if len(au) > 0 {
		h.aus = append(h.aus, au)
	}
	if h.sps == nil || h.pps == nil || len(h.sps) < 4 {
		return nil, errors.New("rtsptest: stream has no SPS or PPS")
	}
	return h, nil
}

// splitAnnexB returns the NAL units between start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(b[start:i], "\x00"))
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	var nals [][]byte
	for _, n := range out {
		if len(n) > 0 {
			nals = append(nals, n)
		}
	}
	return nals
}

// Frames returns how many access units one loop of the stream has.
func (h *H264) Frames() int { return len(h.aus) }

// SDP returns the media section for the stream with payload type pt,
// with sprop-parameter-sets as cameras send it.
func (h *H264) SDP(pt uint8) string {
	return fmt.Sprintf("m=video 0 RTP/AVP %d\r\na=rtpmap:%d H264/90000\r\n"+
		"a=fmtp:%d packetization-mode=1;profile-level-id=%X;sprop-parameter-sets=%s,%s\r\n",
		pt, pt, pt, h.sps[1:4], base64.StdEncoding.EncodeToString(h.sps), base64.StdEncoding.EncodeToString(h.pps))
}

// Source returns a source that sends the stream in a loop with payload
// type pt: one access unit per 1/fps when paced, back to back otherwise.
// Each access unit's last packet has the marker bit.
func (h *H264) Source(pt uint8, paced bool) SourceFunc {
	return func(ctx context.Context, write func(*rtp.Packet) error) error {
		var tick <-chan time.Time
		if paced {
			t := time.NewTicker(time.Second / time.Duration(h.fps))
			defer t.Stop()
			tick = t.C
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: rand.Uint32(),
			SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}
		fu := make([]byte, mtu)
		emit := func(payload []byte, marker bool) error {
			p.Payload, p.Marker = payload, marker
			err := write(p)
			p.SequenceNumber++
			return err
		}
		for i := 0; ; i = (i + 1) % len(h.aus) {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return nil
				}
			}
			au := h.aus[i]
			for j, nal := range au {
				last := j == len(au)-1
				if len(nal) <= mtu {
					if emit(nal, last) != nil {
						return nil
					}
					continue
				}
				// FU-A (RFC 6184 5.8): the NAL header's F and NRI bits
				// with type 28, then a header with S/E and the type.
				for off := 1; off < len(nal); {
					n := min(mtu-2, len(nal)-off)
					fu[0] = nal[0]&0xe0 | 28
					fu[1] = nal[0] & 0x1f
					if off == 1 {
						fu[1] |= 0x80
					}
					end := off+n == len(nal)
					if end {
						fu[1] |= 0x40
					}
					copy(fu[2:], nal[off:off+n])
					if emit(fu[:2+n], last && end) != nil {
						return nil
					}
					off += n
				}
			}
			p.Timestamp += uint32(90000 / h.fps)
		}
	}
}
