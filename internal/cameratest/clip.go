package cameratest

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pion/rtp"

	"civic/building/cameras/h264"
	"civic/building/cameras/rtsp/rtsptest"
)

// ClipFile is the H.264 test clip (building/cameras/h264/testdata): 4 s
// of 640x360 at 15 fps, constrained baseline, a keyframe every 30 frames
// with SPS and PPS before it.
func ClipFile() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "building", "cameras", "h264", "testdata", "ball-640x360-15fps.h264")
}

var clip struct {
	once sync.Once
	aus  []h264.AccessUnit
	sps  []byte
	pps  []byte
	err  error
}

// Clip returns the test clip's pictures and its parameter sets.
func Clip() ([]h264.AccessUnit, []byte, []byte, error) {
	clip.once.Do(func() {
		b, err := os.ReadFile(ClipFile())
		if err != nil {
			clip.err = err
			return
		}
		clip.aus = h264.AccessUnitsFromAnnexB(b, 15)
		for _, au := range clip.aus {
			for _, n := range au.NALUs {
				switch h264.NALType(n) {
				case h264.NALSPS:
					clip.sps = n
				case h264.NALPPS:
					clip.pps = n
				}
			}
			if clip.sps != nil && clip.pps != nil {
				break
			}
		}
	})
	return clip.aus, clip.sps, clip.pps, clip.err
}

// ClipMount is an rtsptest mount that plays the test clip in a loop, in
// real time, like a 15 fps camera.
func ClipMount() (rtsptest.Mount, error) {
	aus, sps, pps, err := Clip()
	if err != nil {
		return rtsptest.Mount{}, err
	}
	sprop := base64.StdEncoding.EncodeToString(sps) + "," + base64.StdEncoding.EncodeToString(pps)
	sdp := "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=" +
		h264.ProfileLevelID(sps) + ";sprop-parameter-sets=" + sprop + "\r\n"
	return rtsptest.Mount{SDP: sdp, Source: func(ctx context.Context, write func(*rtp.Packet) error) error {
		return PlayClip(ctx, aus, 15, write)
	}}, nil
}

// PlayClip writes aus in a loop at fps pictures a second, packetised for
// RTP (payload type 96), until ctx ends or write fails.
func PlayClip(ctx context.Context, aus []h264.AccessUnit, fps int, write func(*rtp.Packet) error) error {
	pack := h264.NewPacketizer(1400, 96, 0x43414d31)
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	var ts uint32
	for i := 0; ; i++ {
		au := aus[i%len(aus)]
		au.Timestamp = ts
		ts += uint32(90000 / fps)
		for _, p := range pack.Packetize(au) {
			if err := write(p); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
