package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pion/rtp"

	"civic/building/cameras/h264"
	"civic/building/cameras/rtsp/rtsptest"
)

// The bench's cameras: H.264 clips served by rtsptest in this process,
// each mount playing its clip in a loop as a camera whose encoder runs
// all the time, so that a session that starts mid-GOP waits for the next
// keyframe as it would with a real camera.

// camClip is an H.264 clip split into pictures, with its figures.
type camClip struct {
	Name     string // where it came from, for the report
	AUs      []h264.AccessUnit
	SPS, PPS []byte
	FPS      int
	Width    int
	Height   int
	Profile  string        // profile-level-id, e.g. 42c01f
	GOP      time.Duration // keyframe interval
	Kbps     int           // average bitrate of the loop
}

// loadClip reads an Annex B file played at fps.
func loadClip(path string, fps int) (*camClip, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &camClip{Name: filepath.Base(path), AUs: h264.AccessUnitsFromAnnexB(b, fps), FPS: fps}
	keys, firstKey, gop := 0, -1, 0
	bytes := 0
	for i, au := range c.AUs {
		bytes += au.Size()
		for _, n := range au.NALUs {
			switch h264.NALType(n) {
			case h264.NALSPS:
				if c.SPS == nil {
					c.SPS = n
				}
			case h264.NALPPS:
				if c.PPS == nil {
					c.PPS = n
				}
			}
		}
		if au.Keyframe {
			keys++
			if firstKey < 0 {
				firstKey = i
			} else if gop == 0 {
				gop = i - firstKey
			}
		}
	}
	if len(c.AUs) == 0 || c.SPS == nil || c.PPS == nil || keys == 0 {
		return nil, fmt.Errorf("%s: want H.264 pictures with an SPS, a PPS and a keyframe; got %d pictures, %d keyframes", path, len(c.AUs), keys)
	}
	if !c.AUs[0].Keyframe {
		return nil, fmt.Errorf("%s: the first picture is not a keyframe", path)
	}
	if gop == 0 {
		gop = len(c.AUs) // one keyframe: the loop is the interval
	}
	c.GOP = time.Duration(gop) * time.Second / time.Duration(fps)
	c.Kbps = int(float64(bytes) * 8 / 1000 / (float64(len(c.AUs)) / float64(fps)))
	c.Profile = h264.ProfileLevelID(c.SPS)
	if p, err := h264.ParseSPS(c.SPS); err == nil {
		c.Width, c.Height = p.Width, p.Height
	}
	return c, nil
}

// repoClip is the 640x360 15 fps test clip in building/cameras/h264/
// testdata, found from this file's path (go run and go build keep it).
func repoClip() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "building", "cameras", "h264", "testdata", "ball-640x360-15fps.h264")
}

// hdClipArgs is the ffmpeg command line (after "ffmpeg") that makes the
// 2 Mbit/s 1280x720 15 fps constrained-baseline clip of cameras-viewers.
func hdClipArgs(out string) []string {
	return []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=15", "-t", "4",
		"-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M",
		"-x264-params", "keyint=30:min-keyint=30:scenecut=0:repeat-headers=1",
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", out}
}

// makeHDClip runs ffmpeg into dir and loads the clip.
func makeHDClip(ctx context.Context, ffmpeg, dir string) (*camClip, error) {
	if ffmpeg == "" {
		return nil, errors.New("cameras-viewers needs ffmpeg (Debian: apt-get install ffmpeg), or -ffmpeg PATH")
	}
	out := filepath.Join(dir, "hd-1280x720-15fps-2M.h264")
	cmd := exec.CommandContext(ctx, ffmpeg, hdClipArgs(out)...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w\n%s", err, msg.Bytes())
	}
	return loadClip(out, 15)
}

// sdp is the clip's media section, with sprop-parameter-sets as cameras
// send it.
func (c *camClip) sdp() string {
	return "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=" + c.Profile +
		";sprop-parameter-sets=" + base64.StdEncoding.EncodeToString(c.SPS) + "," + base64.StdEncoding.EncodeToString(c.PPS) + "\r\n"
}

// camSource is one camera: the clip, its encoder's start (the loop is
// where it would be now had it run since then), and, when log is set,
// where each picture's send times go.
type camSource struct {
	clip  *camClip
	epoch time.Time
	ts0   uint32
	log   *stampLog
}

func newCamSource(clip *camClip, log *stampLog) *camSource {
	return &camSource{clip: clip, epoch: time.Now().Add(-rand.N(10 * time.Second)), ts0: rand.Uint32(), log: log}
}

// mount is the rtsptest mount that plays the camera.
func (s *camSource) mount() rtsptest.Mount {
	return rtsptest.Mount{SDP: s.clip.sdp(), Source: s.play}
}

// play sends the clip from where the free-running encoder is now, one
// picture per 1/fps on an absolute schedule (no drift), packetised for
// RTP at 1400 bytes, until ctx ends or write fails. A source that falls
// over a second behind (the machine stalled) skips ahead, as a camera
// would.
func (s *camSource) play(ctx context.Context, write func(*rtp.Packet) error) error {
	fps := s.clip.FPS
	frame := time.Second / time.Duration(fps)
	pack := h264.NewPacketizer(1400, 96, rand.Uint32())
	i := int(time.Since(s.epoch)/frame) + 1
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		at := s.epoch.Add(time.Duration(i) * frame)
		if late := time.Since(at); late > time.Second {
			i += int(late / frame)
			continue
		}
		timer.Reset(time.Until(at))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		au := s.clip.AUs[i%len(s.clip.AUs)]
		au.Timestamp = s.ts0 + uint32(i)*uint32(90000/fps)
		for _, p := range pack.Packetize(au) {
			if s.log != nil {
				s.log.sent(au.Timestamp, time.Now())
			}
			if err := write(p); err != nil {
				return err
			}
		}
		if s.log != nil {
			s.log.sent(au.Timestamp, time.Now()) // the last packet is out
		}
		i++
	}
}
