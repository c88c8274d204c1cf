package h264

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
)

// DefaultMaxAUBytes is the access unit limit NewAssembler uses when given 0.
// A 4K IDR at high quality stays well under it; a camera that sends more is
// broken or hostile.
const DefaultMaxAUBytes = 4 << 20

// maxMisorder is how far behind the expected sequence number a packet may
// be and still count as late or duplicated. Anything further is taken as the
// sender restarting its sequence, because int16 arithmetic alone cannot tell
// "very late" from "restarted".
const maxMisorder = 100

// AssemblerStats counts what an Assembler has seen, for camera health
// figures.
type AssemblerStats struct {
	Packets     uint64 // RTP packets pushed
	Lost        uint64 // packets missing by sequence number
	Late        uint64 // late or duplicate packets ignored
	Malformed   uint64 // packets rejected as malformed or unsupported
	AccessUnits uint64 // access units delivered
	Keyframes   uint64 // keyframes delivered
	Dropped     uint64 // access units dropped: loss, malformed or too large
	TooLarge    uint64 // access units dropped for exceeding the limit
}

type span struct{ start, end int }

// auBuffer holds one access unit's NAL units back to back. Spans record
// offsets rather than slices because data may move while it grows.
type auBuffer struct {
	data  []byte
	spans []span
	nalus [][]byte
}

// Assembler depacketizes H.264 RTP (RFC 6184, packetization-mode 1) into
// access units: RTP packets from a camera in, whole access units out.
//
// It takes single NAL unit packets, STAP-A and FU-A, and rejects STAP-B,
// MTAP and FU-B. An access unit completes on the RTP marker bit, or when the
// timestamp changes, for cameras that never set the marker. A gap in
// sequence numbers drops the access unit in progress, reports ErrPacketLoss
// once, and discards packets until the next access unit starts; every other
// error drops the access unit it hits in the same way. The zero value is not
// usable; call NewAssembler.
type Assembler struct {
	max int
	// Two buffers so the access unit just returned stays intact while the
	// next one is assembled.
	bufs     [2]auBuffer
	cur      int
	open     bool // the current access unit has taken a packet; ts is valid
	done     bool // the current access unit completed but could not be returned yet
	ts       uint32
	keyframe bool

	fuOpen  bool
	fuStart int
	fuType  uint8

	haveSeq  bool
	nextSeq  uint16
	skipping bool
	skipTS   uint32

	stats AssemblerStats
}

// NewAssembler returns an Assembler that drops access units larger than
// maxAUBytes with ErrTooLarge, guarding memory against giant frames; 0 or
// less means DefaultMaxAUBytes.
func NewAssembler(maxAUBytes int) *Assembler {
	if maxAUBytes <= 0 {
		maxAUBytes = DefaultMaxAUBytes
	}
	return &Assembler{max: maxAUBytes}
}

// Stats returns the counters so far.
func (a *Assembler) Stats() AssemblerStats { return a.stats }

// Push takes the next RTP packet of the stream and returns an access unit
// when one is complete.
//
// ok and err are independent: ok reports a good access unit, err a problem
// with the packet just pushed (ErrPacketLoss, ErrTooLarge, ErrMalformed,
// ErrUnsupported). Both can be set at once: a packet may complete the
// previous access unit, by its new timestamp, and be bad itself. So handle
// err, then use the access unit if ok.
//
// The returned NALUs alias the Assembler's buffers: they stay valid until the
// next call to Push or Flush. Copy them to keep them longer. Each NALU's
// capacity ends at its length, so appending to one cannot overwrite another.
// The packet is not retained.
func (a *Assembler) Push(pkt *rtp.Packet) (AccessUnit, bool, error) {
	if pkt == nil {
		return AccessUnit{}, false, fmt.Errorf("%w: nil packet", ErrMalformed)
	}
	a.stats.Packets++

	var au AccessUnit
	var ready bool
	if a.done {
		au, ready, _ = a.finish()
	}

	if a.haveSeq {
		switch d := int16(pkt.SequenceNumber - a.nextSeq); {
		case d == 0:
		case d < 0 && d >= -maxMisorder:
			a.stats.Late++
			return au, ready, nil
		default:
			want := a.nextSeq
			a.nextSeq = pkt.SequenceNumber + 1
			if d > 0 {
				a.stats.Lost += uint64(d)
			}
			a.abandon(pkt.Timestamp, pkt.Marker)
			return au, ready, fmt.Errorf("%w: expected sequence number %d, got %d", ErrPacketLoss, want, pkt.SequenceNumber)
		}
	}
	a.haveSeq = true
	a.nextSeq = pkt.SequenceNumber + 1

	if a.skipping {
		if pkt.Timestamp == a.skipTS {
			// The marker ends the access unit being skipped, so the next
			// packet starts a fresh one even if its timestamp is the same.
			a.skipping = !pkt.Marker
			return au, ready, nil
		}
		a.skipping = false
	}

	var err error
	if a.open && pkt.Timestamp != a.ts {
		// a.done was handled above, so nothing is ready yet.
		au, ready, err = a.finish()
	}
	if !a.open {
		a.open = true
		a.ts = pkt.Timestamp
	}

	if terr := a.take(pkt.Payload); terr != nil {
		a.abandon(pkt.Timestamp, pkt.Marker)
		switch {
		case errors.Is(terr, errNoStart):
			return au, ready, err
		case errors.Is(terr, ErrTooLarge):
			a.stats.TooLarge++
		default:
			a.stats.Malformed++
		}
		return au, ready, terr
	}

	if pkt.Marker {
		if ready {
			// Two access units completed on one packet (a camera that sets
			// the marker only sometimes); hand this one out on the next Push.
			a.done = true
			return au, ready, err
		}
		au, ready, ferr := a.finish()
		if ferr != nil {
			err = ferr
		}
		return au, ready, err
	}
	return au, ready, err
}

// Flush returns the access unit in progress if it is whole (no FU-A left
// open), for the end of a stream from a camera that never sets the marker
// bit. The same aliasing rules as for Push apply. Packets of a later access
// unit are still checked against the sequence numbers seen so far.
func (a *Assembler) Flush() (AccessUnit, bool) {
	if !a.open {
		return AccessUnit{}, false
	}
	au, ok, _ := a.finish()
	return au, ok
}

// finish closes the current access unit, swaps buffers when it is good, and
// starts an empty one.
func (a *Assembler) finish() (AccessUnit, bool, error) {
	b := &a.bufs[a.cur]
	switch {
	case a.fuOpen:
		a.stats.Dropped++
		a.stats.Malformed++
		ts := a.ts
		a.reset()
		return AccessUnit{}, false, fmt.Errorf("%w: FU-A fragment left open at end of access unit (timestamp %d)", ErrMalformed, ts)
	case len(b.spans) == 0:
		// Only ignorable packets, or nothing: there is no picture to give.
		a.reset()
		return AccessUnit{}, false, nil
	}
	b.nalus = b.nalus[:0]
	for _, s := range b.spans {
		b.nalus = append(b.nalus, b.data[s.start:s.end:s.end])
	}
	au := AccessUnit{NALUs: b.nalus, Timestamp: a.ts, Keyframe: a.keyframe}
	a.stats.AccessUnits++
	if au.Keyframe {
		a.stats.Keyframes++
	}
	a.cur ^= 1
	a.reset()
	return au, true, nil
}

// reset empties the current access unit.
func (a *Assembler) reset() {
	b := &a.bufs[a.cur]
	b.data = b.data[:0]
	b.spans = b.spans[:0]
	a.open, a.done, a.keyframe, a.fuOpen = false, false, false, false
}

// abandon drops the access unit in progress and skips the rest of the one
// with timestamp ts, unless marker says the packet already ended it.
func (a *Assembler) abandon(ts uint32, marker bool) {
	if a.open && a.ts != ts {
		a.stats.Dropped++
	}
	if !a.skipping || a.skipTS != ts {
		a.stats.Dropped++
	}
	a.reset()
	a.skipping = !marker
	a.skipTS = ts
}

// take adds one RTP payload to the current access unit.
func (a *Assembler) take(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	switch t := p[0] & 0x1f; {
	case carriable(t):
		if a.fuOpen {
			return fmt.Errorf("%w: NAL unit type %d inside an unfinished FU-A", ErrMalformed, t)
		}
		return a.addNALU(p)
	case t == NALSTAPA:
		return a.takeSTAPA(p[1:])
	case t == NALFUA:
		return a.takeFUA(p)
	case t == nalSTAPB:
		return fmt.Errorf("%w: STAP-B (interleaved mode)", ErrUnsupported)
	case t == nalMTAP16 || t == nalMTAP24:
		return fmt.Errorf("%w: MTAP (interleaved mode)", ErrUnsupported)
	case t == nalFUB:
		return fmt.Errorf("%w: FU-B (interleaved mode)", ErrUnsupported)
	default:
		// RFC 6184 leaves types 0, 30 and 31 undefined. Ignoring them keeps
		// the access unit, which does not depend on them, intact.
		return nil
	}
}

func (a *Assembler) takeSTAPA(q []byte) error {
	if a.fuOpen {
		return fmt.Errorf("%w: STAP-A inside an unfinished FU-A", ErrMalformed)
	}
	if len(q) == 0 {
		return fmt.Errorf("%w: STAP-A without NAL units", ErrMalformed)
	}
	for len(q) > 0 {
		if len(q) < 2 {
			return fmt.Errorf("%w: STAP-A ends with %d stray byte", ErrMalformed, len(q))
		}
		n := int(q[0])<<8 | int(q[1])
		q = q[2:]
		if n == 0 || n > len(q) {
			return fmt.Errorf("%w: STAP-A NAL unit size %d with %d bytes left", ErrMalformed, n, len(q))
		}
		if t := NALType(q[:n]); !carriable(t) {
			return fmt.Errorf("%w: STAP-A holds NAL unit type %d", ErrMalformed, t)
		}
		if err := a.addNALU(q[:n]); err != nil {
			return err
		}
		q = q[n:]
	}
	return nil
}

func (a *Assembler) takeFUA(p []byte) error {
	if len(p) < 2 {
		return fmt.Errorf("%w: FU-A without FU header", ErrMalformed)
	}
	fuh := p[1]
	start, end, t := fuh&0x80 != 0, fuh&0x40 != 0, fuh&0x1f
	if start && end {
		return fmt.Errorf("%w: FU-A with both start and end bits", ErrMalformed)
	}
	if !carriable(t) {
		return fmt.Errorf("%w: FU-A carries NAL unit type %d", ErrMalformed, t)
	}
	b := &a.bufs[a.cur]
	frag := p[2:]
	if start {
		if a.fuOpen {
			return fmt.Errorf("%w: FU-A start before the previous FU-A ended", ErrMalformed)
		}
		if err := a.room(1 + len(frag)); err != nil {
			return err
		}
		a.fuOpen, a.fuStart, a.fuType = true, len(b.data), t
		// The NAL header is not sent in fragments: F and NRI come from the
		// FU indicator, the type from the FU header.
		b.data = append(b.data, p[0]&0xe0|t)
		b.data = append(b.data, frag...)
		if t == NALIDR {
			a.keyframe = true
		}
		return nil
	}
	if !a.fuOpen {
		return errNoStart
	}
	if t != a.fuType {
		return fmt.Errorf("%w: FU-A fragment of type %d continues type %d", ErrMalformed, t, a.fuType)
	}
	if err := a.room(len(frag)); err != nil {
		return err
	}
	b.data = append(b.data, frag...)
	if end {
		b.spans = append(b.spans, span{a.fuStart, len(b.data)})
		a.fuOpen = false
	}
	return nil
}

func (a *Assembler) addNALU(nalu []byte) error {
	if err := a.room(len(nalu)); err != nil {
		return err
	}
	b := &a.bufs[a.cur]
	start := len(b.data)
	b.data = append(b.data, nalu...)
	b.spans = append(b.spans, span{start, len(b.data)})
	if NALType(nalu) == NALIDR {
		a.keyframe = true
	}
	return nil
}

// room checks the limit before growing, so a giant frame never gets the
// memory it asks for.
func (a *Assembler) room(n int) error {
	if have := len(a.bufs[a.cur].data); have+n > a.max {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, a.max)
	}
	return nil
}
