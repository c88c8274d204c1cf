package main

import (
	"sync/atomic"
	"time"
)

// histogram counts delays in buckets whose width grows with the delay:
// 10 µs up to 1 ms, 100 µs up to 10 ms, 1 ms up to 100 ms, 10 ms up to
// 1 s, and one bucket beyond. It is safe for concurrent use and does not
// allocate per sample, so hundreds of track readers can share the bench
// process's two cores with the daemon.
type histogram struct {
	n [histBuckets]atomic.Uint64
}

// The bucket layout: each decade below 1 s has its own width.
var histDecades = [...]struct{ below, width time.Duration }{
	{time.Millisecond, 10 * time.Microsecond},
	{10 * time.Millisecond, 100 * time.Microsecond},
	{100 * time.Millisecond, time.Millisecond},
	{time.Second, 10 * time.Millisecond},
}

const histBuckets = 100 + 90 + 90 + 90 + 1

// bucket returns the index of d's bucket.
func bucket(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	base, lo := 0, time.Duration(0)
	for _, dec := range histDecades {
		if d < dec.below {
			return base + int((d-lo)/dec.width)
		}
		base += int((dec.below - lo) / dec.width)
		lo = dec.below
	}
	return histBuckets - 1
}

// histOverflow is the upper bound reported for the last bucket, which
// holds everything from 1 s on.
const histOverflow = time.Duration(1<<63 - 1)

// upper returns the upper bound of bucket i (histOverflow for the last).
func upper(i int) time.Duration {
	lo := time.Duration(0)
	for _, dec := range histDecades {
		n := int((dec.below - lo) / dec.width)
		if i < n {
			return lo + time.Duration(i+1)*dec.width
		}
		i -= n
		lo = dec.below
	}
	return histOverflow
}

func (h *histogram) add(d time.Duration) { h.n[bucket(d)].Add(1) }

// merge adds o's counts into a plain snapshot.
func (s *histSnapshot) merge(o *histogram) {
	for i := range o.n {
		s[i] += o.n[i].Load()
	}
}

// histSnapshot is a histogram read at one moment.
type histSnapshot [histBuckets]uint64

func (s *histSnapshot) count() uint64 {
	var n uint64
	for _, v := range s {
		n += v
	}
	return n
}

// quantile returns the upper bound of the bucket holding the q-th
// quantile (0 < q <= 1), or 0 when the histogram is empty.
func (s *histSnapshot) quantile(q float64) time.Duration {
	total := s.count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, v := range s {
		seen += v
		if seen >= rank {
			return upper(i)
		}
	}
	return upper(histBuckets - 1)
}

// max returns the upper bound of the highest non-empty bucket.
func (s *histSnapshot) max() time.Duration {
	for i := histBuckets - 1; i >= 0; i-- {
		if s[i] != 0 {
			return upper(i)
		}
	}
	return 0
}
