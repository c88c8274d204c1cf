package conference

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Active speaker detection from the RFC 6464 audio level that browsers
// (and, later, the phone bridge) put in an RTP header extension: 0 is the
// loudest (0 dBov), 127 silence. Each audio packet feeds a smoothed
// loudness per participant; every speakerTick the room names the loudest
// participant heard recently, if loud enough, and tells everyone when that
// changes.
const (
	audioLevelURI    = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	speakerTick      = 300 * time.Millisecond
	speakerRecent    = 600 * time.Millisecond // heard within this long
	speakerThreshold = 127 - 60               // louder than -60 dBov
	// SignalSpeaker names the active speaker: {participant_id}.
	SignalSpeaker = "speaker.changed"
)

// extensionID finds a header extension's negotiated id, or 0.
func extensionID(exts []webrtc.RTPHeaderExtensionParameter, uri string) uint8 {
	for _, e := range exts {
		if e.URI == uri && e.ID > 0 && e.ID < 256 {
			return uint8(e.ID)
		}
	}
	return 0
}

// audioLevel reads the RFC 6464 level (0 loudest to 127 silent) from an
// RTP packet's header extension with the given id, in the one-byte
// (RFC 8285 0xBEDE) or two-byte form. It reads the bytes in place.
func audioLevel(pkt []byte, id uint8) (uint8, bool) {
	if len(pkt) < 12 || pkt[0]&0x10 == 0 || id == 0 {
		return 0, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < off+4 {
		return 0, false
	}
	profile := uint16(pkt[off])<<8 | uint16(pkt[off+1])
	end := off + 4 + 4*int(uint16(pkt[off+2])<<8|uint16(pkt[off+3]))
	if end > len(pkt) {
		return 0, false
	}
	ext := pkt[off+4 : end]
	switch {
	case profile == 0xBEDE: // one-byte headers: id(4) len-1(4), data
		for i := 0; i < len(ext); {
			if ext[i] == 0 { // padding
				i++
				continue
			}
			eid, l := ext[i]>>4, int(ext[i]&0x0f)+1
			if eid == 15 {
				return 0, false
			}
			if i+1+l > len(ext) {
				return 0, false
			}
			if eid == id {
				return ext[i+1] & 0x7f, true
			}
			i += 1 + l
		}
	case profile&0xfff0 == 0x1000: // two-byte headers: id(8) len(8), data
		for i := 0; i+1 < len(ext); {
			if ext[i] == 0 {
				i++
				continue
			}
			eid, l := ext[i], int(ext[i+1])
			if i+2+l > len(ext) {
				return 0, false
			}
			if eid == id && l >= 1 {
				return ext[i+2] & 0x7f, true
			}
			i += 2 + l
		}
	}
	return 0, false
}

// hear feeds one packet's loudness (127 minus the level).
func (p *Participant) hear(loudness int32) {
	old := p.loud.Load()
	p.loud.Store((old*3 + loudness) / 4)
	p.heard.Store(time.Now().UnixNano())
}

// detectSpeaker runs for the life of the room.
func (r *room) detectSpeaker() {
	tick := time.NewTicker(speakerTick)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			r.pickSpeaker(now)
		}
	}
}

// pickSpeaker names the loudest recent participant and announces a change.
func (r *room) pickSpeaker(now time.Time) {
	r.mu.Lock()
	best, bestLoud := "", int32(speakerThreshold)
	for id, m := range r.members {
		if m.muted.Load() || now.UnixNano()-m.heard.Load() > int64(speakerRecent) {
			continue
		}
		if l := m.loud.Load(); l > bestLoud {
			best, bestLoud = id, l
		}
	}
	changed := best != "" && best != r.speaker
	var who *Participant
	if changed {
		r.speaker = best
		who = r.members[best]
	}
	r.mu.Unlock()
	if changed {
		r.broadcast(Signal{Kind: SignalSpeaker, Data: map[string]any{"participant_id": best}})
		r.announce(KindSpeakerChanged, who)
	}
}
