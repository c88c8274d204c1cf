package conference

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// Layer allocation. Every allocTick, and at once when someone subscribes,
// publishes or reports a new view, the room chooses for each subscriber
// and each simulcast track the layer to send:
//
//   - no bigger than the subscriber renders it (the page reports each
//     tile's size; a hidden tile gets nothing);
//   - within the subscriber's budget, capped by what the client asked for.
//     The send-side bandwidth estimate (GCC over transport-wide feedback)
//     sets the budget when it sees congestion (queueing delay growing, or
//     loss over 10%). GCC only ever estimates up to 1.5 times what is being
//     sent, so it cannot say when there is room for more: a new track
//     starts in the layer that fits the estimate, and going up is tried one
//     step at a time while the link is calm, and undone, with a growing
//     hold-off, when congestion follows.
//
// Then each publisher is told which layers anybody takes; the others are
// paused at the source (the browser stops encoding them).
const (
	allocTick     = 500 * time.Millisecond
	probeHold     = 2 * time.Second  // after a step up, watch before the next
	backoffMin    = 2 * time.Second  // hold-off after congestion, doubling
	backoffMax    = 30 * time.Second //
	stableReset   = 10 * time.Second // uncongested this long resets the hold-off
	congestedLoss = 0.1              // average loss that counts as congestion
	statsEvery    = 4                // ticks between stats events (2 s)

	// SignalLayers tells a publisher which layers of one of its tracks
	// are wanted: {track_id, active: [rid...]}. The others can pause.
	SignalLayers = "publish.layers"
)

// View is how a subscriber shows a forwarded stream: the size in device
// pixels of the tile it plays in. Zero means not shown.
type View struct {
	Stream string `json:"stream"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// SetViews records the sizes at which the client shows streams (merged
// with earlier ones), and, when maxBitrate is not nil, the most it wants
// to receive in bits/s (0: no cap).
func (p *Participant) SetViews(views []View, maxBitrate *int) {
	p.downMu.Lock()
	if p.views == nil {
		p.views = make(map[string]View)
	}
	for _, v := range views {
		p.views[v.Stream] = v
	}
	if maxBitrate != nil {
		p.maxRate = max(*maxBitrate, 0)
	}
	p.downMu.Unlock()
	p.r.kick()
}

// bweState is a subscriber's place in the step-up/back-off cycle.
type bweState struct {
	holdUntil   time.Time
	backoff     time.Duration
	calmSince   time.Time
	lastSent    uint64
	lastAt      time.Time
	sendingRate int // bits/s sent to this subscriber over the last tick
	congested   bool
}

// congested reports whether the estimator sees congestion.
func congested(est interface{ GetStats() map[string]any }) bool {
	st := est.GetStats()
	usage, _ := st["usage"].(string)
	loss, _ := st["averageLoss"].(float64)
	return usage == "overuse" || loss > congestedLoss
}

// linkStats is what a subscriber's receiver reports say about its link.
type linkStats struct {
	lossPermille atomic.Int32 // fraction lost in the last report, per mille
	rttMicros    atomic.Int64 // round-trip time from the last report
	inRate       atomic.Int64 // bits/s the participant publishes
	outRate      atomic.Int64 // bits/s sent to the participant
}

// report takes RTCP reception reports (RFC 3550 §6.4.1).
func (s *linkStats) report(rr []rtcp.ReceptionReport, now time.Time) {
	for _, r := range rr {
		s.lossPermille.Store(int32(r.FractionLost) * 1000 / 256)
		if r.LastSenderReport == 0 {
			continue
		}
		// RTT = now - LSR - DLSR, all in 1/65536 s (the middle 32 bits of NTP).
		mid := ntpMiddle(now)
		rtt := mid - r.LastSenderReport - r.Delay
		if int32(rtt) >= 0 && rtt < 65536*10 {
			s.rttMicros.Store(int64(rtt) * 1_000_000 / 65536)
		}
	}
}

// ntpMiddle is the middle 32 bits of the NTP time of t.
func ntpMiddle(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1_000_000_000
	return uint32((secs<<32 | frac) >> 16)
}

// kick asks the allocator to run now.
func (r *room) kick() {
	select {
	case r.allocNow <- struct{}{}:
	default:
	}
}

// allocate runs the allocator until the room is dropped.
func (r *room) allocate() {
	tick := time.NewTicker(allocTick)
	defer tick.Stop()
	last := time.Now()
	n := 0
	for {
		select {
		case <-r.stop:
			return
		case <-r.allocNow:
		case <-tick.C:
			now := time.Now()
			r.allocateOnce(now, now.Sub(last), true)
			last = now
			if n++; n%statsEvery == 0 {
				r.publishStats()
			}
			continue
		}
		r.allocateOnce(time.Now(), 0, false)
	}
}

// allocateOnce measures the layers (on a tick, over period), chooses each
// subscriber's layers and tells publishers which layers are wanted.
func (r *room) allocateOnce(now time.Time, period time.Duration, measure bool) {
	r.mu.Lock()
	tracks := slices.Clone(r.tracks)
	members := make([]*Participant, 0, len(r.members))
	for _, m := range r.members {
		members = append(members, m)
	}
	r.mu.Unlock()
	if measure {
		in := make(map[*Participant]int)
		for _, t := range tracks {
			for _, l := range t.layers {
				l.measure(period)
				in[t.owner] += l.rate
			}
		}
		for _, m := range members {
			m.stats.inRate.Store(int64(in[m]))
		}
	}
	for _, m := range members {
		m.allocate(now, measure)
	}
	for _, t := range tracks {
		if t.simulcast() {
			t.announceLayers()
		}
	}
}

// allocate chooses the layer of each simulcast track p subscribes to.
func (p *Participant) allocate(now time.Time, measure bool) {
	if p.local {
		return // it takes no video
	}
	p.downMu.Lock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	views := p.views
	capRate := p.maxRate
	want := make(map[*downTrack]int32, len(downs))
	for _, d := range downs {
		want[d] = d.want(views, now)
	}
	p.downMu.Unlock()

	b := &p.bwe
	if measure {
		var sent uint64
		for _, d := range downs {
			sent += d.bytes.Load()
		}
		if !b.lastAt.IsZero() {
			if s := now.Sub(b.lastAt).Seconds(); s > 0 {
				b.sendingRate = int(float64(sent-b.lastSent) * 8 / s)
			}
		}
		b.lastSent, b.lastAt = sent, now
		p.stats.outRate.Store(int64(b.sendingRate))
	}
	est := p.est.GetTargetBitrate()
	if measure {
		b.congested = congested(p.est)
		switch {
		case b.congested:
			b.backoff = min(max(2*b.backoff, backoffMin), backoffMax)
			b.holdUntil, b.calmSince = now.Add(b.backoff), now
		case b.calmSince.IsZero():
			b.calmSince = now
		case now.Sub(b.calmSince) > stableReset:
			b.backoff = 0
		}
	}
	budget := math.MaxInt
	if b.congested {
		budget = est
	}
	if capRate > 0 {
		budget = min(budget, capRate)
	}

	// Start from what each takes now, never above what it wants; audio and
	// single-layer tracks are not chosen, only counted. A new track gets
	// the best layer that fits what is left of the estimate.
	target := make(map[*downTrack]int32, len(downs))
	total := 0
	var video, fresh []*downTrack
	for _, d := range downs {
		w := want[d]
		if !d.t.simulcast() {
			d.target.Store(min(w, 0))
			if w >= 0 {
				total += d.t.layers[0].rate
			}
			continue
		}
		video = append(video, d)
		if !d.allocated {
			d.allocated = true
			fresh = append(fresh, d)
			target[d] = min(w, 0)
			continue
		}
		t := d.target.Load()
		if t > w || (t < 0 && w >= 0) {
			t = min(w, 0)
		}
		target[d] = t
	}
	cost := func(d *downTrack, i int32) int {
		if i < 0 {
			return 0
		}
		return d.t.layers[i].cost()
	}
	for _, d := range video {
		total += cost(d, target[d])
	}
	// Over budget: step down the costliest until it fits (not below the
	// lowest layer).
	for total > budget {
		var worst *downTrack
		for _, d := range video {
			if target[d] > 0 && (worst == nil || cost(d, target[d]) > cost(worst, target[worst])) {
				worst = d
			}
		}
		if worst == nil {
			break
		}
		total += cost(worst, target[worst]-1) - cost(worst, target[worst])
		target[worst]--
	}
	for _, d := range fresh {
		for t := target[d]; t >= 0 && t < want[d]; t++ {
			extra := cost(d, t+1) - cost(d, t)
			if total+extra > min(budget, est) {
				break
			}
			target[d], total = t+1, total+extra
		}
		b.holdUntil = now.Add(probeHold) // let it settle before probing
	}
	// When the link is calm, one step up to find out whether it takes more.
	if !b.congested && now.After(b.holdUntil) {
		var pick *downTrack
		for _, d := range video {
			if target[d] < want[d] && (pick == nil || target[d] < target[pick]) {
				pick = d
			}
		}
		if pick != nil {
			next := target[pick] + 1
			if total-cost(pick, target[pick])+cost(pick, next) <= budget {
				target[pick] = next
				b.holdUntil = now.Add(probeHold)
			}
		}
	}
	for _, d := range video {
		if old := d.target.Swap(target[d]); old != target[d] && target[d] >= 0 {
			d.t.layers[target[d]].requestKeyframe()
		}
	}
}

// want is the highest layer worth sending to the subscriber: the smallest
// that covers the size it renders, -1 when it shows the stream nowhere.
func (d *downTrack) want(views map[string]View, now time.Time) int32 {
	top := int32(0)
	for i, l := range d.t.layers {
		if l.available(now) {
			top = int32(i)
		}
	}
	v, ok := views[d.t.streamID]
	if !d.t.video || !ok {
		return top
	}
	if v.Width <= 0 || v.Height <= 0 {
		return -1
	}
	for i, l := range d.t.layers[:top+1] {
		w, h := l.size()
		if w >= v.Width*9/10 && h >= v.Height*9/10 {
			return int32(i)
		}
	}
	return top
}

// layerArrival is how long a layer may take to arrive once asked for.
const layerArrival = 2 * time.Second

// available reports whether the layer can be sent: it arrived, or it is
// paused (and will come when asked), or it was asked for only just now.
// A browser sends fewer layers than offered when the camera is small or
// the machine busy; those do not count.
func (l *layer) available(now time.Time) bool {
	return l.remote.Load() != nil || l.askedAt.IsZero() || now.Sub(l.askedAt) < layerArrival
}

// size is the layer's picture size: as seen in its last keyframe, or
// guessed from the top layer's (each layer half the next), or from the
// common 320x180, 640x360, 1280x720 ladder.
func (l *layer) size() (int, int) {
	if w, h := l.width.Load(), l.height.Load(); w > 0 {
		return int(w), int(h)
	}
	layers := l.t.layers
	topW, topH := layers[len(layers)-1].width.Load(), layers[len(layers)-1].height.Load()
	if topW == 0 {
		topW, topH = 1280, 720
	}
	shift := len(layers) - 1 - l.index
	return int(topW) >> shift, int(topH) >> shift
}

// announceLayers tells the publisher which layers somebody takes, when
// that changed.
func (t *forwardTrack) announceLayers() {
	used := make([]bool, len(t.layers))
	for _, d := range t.downTracks() {
		for _, i := range []int32{d.current.Load(), d.target.Load()} {
			if i >= 0 && int(i) < len(used) {
				used[i] = true
			}
		}
	}
	var active []string
	now := time.Now()
	for i, u := range used {
		l := t.layers[i]
		switch {
		case !u:
			l.askedAt = time.Time{}
		case l.askedAt.IsZero():
			l.askedAt = now
		}
		if u {
			active = append(active, l.rid)
		}
	}
	if slices.Equal(active, t.active) && t.active != nil {
		return
	}
	t.active = active
	if active == nil {
		t.active = []string{}
	}
	t.owner.send(Signal{Kind: SignalLayers, Data: map[string]any{"track_id": t.id, "active": t.active}})
}
