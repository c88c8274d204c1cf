package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// latStats are the median, 99th percentile and maximum of samples (all
// zero when there are none).
type latStats struct {
	N             int
	P50, P99, Max time.Duration
}

// latencyStats sorts a copy of samples and reads its quantiles (nearest
// rank).
func latencyStats(samples []time.Duration) latStats {
	if len(samples) == 0 {
		return latStats{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return latStats{N: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

// buildingTarget is the part's p99 target from issue 5.
func buildingTarget(part string) time.Duration {
	if part == "building-swipes" {
		return 20 * time.Millisecond
	}
	return 100 * time.Millisecond
}

func cores(cpu, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return cpu.Seconds() / window.Seconds()
}

// writeBuildingResult prints one part's table and notes.
func writeBuildingResult(w io.Writer, r *buildingResult) {
	st := latencyStats(r.Lat)
	target := buildingTarget(r.Part)
	met := "met"
	if st.N == 0 || st.P99 >= target {
		met = "**missed**"
	}
	fmt.Fprintf(w, "### %s: %d doors on %d controllers\n\n", r.Part, r.Doors, r.Controllers)
	switch r.Part {
	case "building-swipes":
		fmt.Fprintf(w, "| offered | swipes in the window | decisions | granted / denied | timed out (2 s) | card → decision p50 / p99 / max | civicd CPU | civicd cores | civicd RSS before / peak in the window | civicsim cores | bench + other cores | target p99 < %s |\n", dur(target))
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
		perSwipe := time.Duration(0)
		if r.Swipes > 0 {
			perSwipe = r.CPU / time.Duration(r.Swipes)
		}
		fmt.Fprintf(w, "| %g swipes/s for %s | %s (%.1f/s) | %s | %s / %s | %d | %s / %s / %s | %s per swipe | %.2f | %s / %s | %.2f | %.2f + %.2f | %s |\n\n",
			r.Offered, r.Window, num(r.Swipes), float64(r.Swipes)/r.Window.Seconds(), num(st.N), num(r.Granted), num(r.Denied), r.Timeouts+r.Late,
			dur(st.P50), dur(st.P99), dur(st.Max), perSwipeText(perSwipe), cores(r.CPU, r.Window), mb(float64(r.RSSBefore)), mb(float64(r.PeakRSS)),
			cores(r.SimCPU, r.Window), cores(r.BenchCPU, r.Window), cores(r.OtherCPU, r.Window), met)
		fmt.Fprintf(w, "Decisions by reason:")
		for _, k := range sortedKeys(r.Reasons) {
			fmt.Fprintf(w, " %s %s;", k, num(r.Reasons[k]))
		}
		fmt.Fprintf(w, " late (after civicsim gave up) %d.\n\n", r.Late)
	default:
		fmt.Fprintf(w, "| offered | changes | websockets | deliveries / expected | change → websocket p50 / p99 / max | command → civicsim's PUBACK p50 / p99 | civicd CPU | civicd cores | civicd RSS before / peak in the window | civicsim cores | bench + other cores | target p99 < %s |\n", dur(target))
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
		pub := latencyStats(r.Publish)
		perDelivery := time.Duration(0)
		if r.Delivered > 0 {
			perDelivery = r.CPU / time.Duration(r.Delivered)
		}
		fmt.Fprintf(w, "| %g changes/s | %s | %d | %s / %s | %s / %s / %s | %s / %s | %s per delivery | %.2f | %s / %s | %.2f | %.2f + %.2f | %s |\n\n",
			r.Offered, num(r.Changes), r.Watchers, num(r.Delivered), num(r.Expected), dur(st.P50), dur(st.P99), dur(st.Max),
			dur(pub.P50), dur(pub.P99), perSwipeText(perDelivery), cores(r.CPU, r.Window), mb(float64(r.RSSBefore)), mb(float64(r.PeakRSS)),
			cores(r.SimCPU, r.Window), cores(r.BenchCPU, r.Window), cores(r.OtherCPU, r.Window), met)
	}
	at, busiest := busiestSecond(r.OtherPerSecond)
	fmt.Fprintf(w, "CPU is over a window of %.1f s; other processes' busiest second was second %d of it, at %.2f cores; civicd logged %d warnings or errors.\n\n", r.Window.Seconds(), at, busiest, r.Warnings)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	fmt.Fprintln(w)
}

// perSwipeText prints a small CPU time per operation in µs.
func perSwipeText(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}
