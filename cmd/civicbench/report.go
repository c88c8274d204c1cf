package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Derived figures of a result.

func (r *result) sumPkts() uint64     { return r.pkts[0] + r.pkts[1] }
func (r *result) sumBytes() uint64    { return r.bytes[0] + r.bytes[1] }
func (r *result) sumExpected() uint64 { return r.expected[0] + r.expected[1] }

// mbit is the forwarded traffic (RTP headers and payload, as the
// subscribers received it) in Mbit.
func (r *result) mbit() float64 { return float64(r.sumBytes()) * 8 / 1e6 }

func (r *result) daemonCores() float64 { return r.daemonCPU.Seconds() / r.window.Seconds() }
func (r *result) benchCores() float64  { return r.benchCPU.Seconds() / r.window.Seconds() }

func (r *result) cpuPerMbit() float64 {
	if r.mbit() == 0 {
		return 0
	}
	return r.daemonCPU.Seconds() / r.mbit()
}

func (r *result) cpuPerKPkt() float64 {
	if r.sumPkts() == 0 {
		return 0
	}
	return r.daemonCPU.Seconds() / (float64(r.sumPkts()) / 1000)
}

// loss is the share of expected packets that did not arrive in time. A
// packet retransmitted after a NACK can arrive twice, so more can arrive
// than were expected; loss is then 0.
func (r *result) loss() float64 {
	e := r.sumExpected()
	if e == 0 || r.sumPkts() >= e {
		return 0
	}
	return 1 - float64(r.sumPkts())/float64(e)
}

// outsideLoad is how many cores were busy with neither the daemon nor
// this process: other work on a shared machine, or the kernel.
func (r *result) outsideLoad(cores int) float64 {
	return max(0, r.machineUse*float64(cores)-r.daemonCores()-r.benchCores())
}

func (r *result) latAll() histSnapshot {
	var s histSnapshot
	for i := range s {
		s[i] = r.lat[0][i] + r.lat[1][i]
	}
	return s
}

func (r *result) rssPerParticipant() float64 {
	return float64(r.rssWith-r.rssBefore) / float64(r.total)
}

// saturated says whether the machine ran out of CPU during the window.
func (r *result) saturated(cores int) bool {
	return r.machineUse >= 0.9 || r.daemonCores()+r.benchCores() >= 0.9*float64(cores)
}

// writeResult prints one scenario as a Markdown section.
func writeResult(w io.Writer, r *result, cores int, ticksExact bool) {
	sc := r.sc
	fmt.Fprintf(w, "### (%s) %s\n\n", sc.Name, sc.Title)
	if r.fitNote != "" {
		fmt.Fprintf(w, "%s\n\n", r.fitNote)
	}
	kinds := "Opus"
	if sc.Video {
		kinds = "VP8 and Opus"
	}
	listeners := sc.Size - sc.Publishers
	shape := fmt.Sprintf("%d in %d meeting(s) of %d; %d publish %s", r.total, sc.Meetings, sc.Size, r.publishers, kinds)
	if listeners > 0 {
		shape += fmt.Sprintf(", %d only listen", listeners*sc.Meetings)
	}
	delivering := "all delivering"
	if r.silent > 0 {
		delivering = fmt.Sprintf("**%d never delivered a packet**", r.silent)
	}
	all := r.latAll()
	w1 := r.window.Seconds()
	rows := [][2]string{
		{"participants", shape},
		{"forwarded tracks (publisher track × subscriber)", fmt.Sprintf("%s (%s video, %s audio), %s", num(r.streams), num(r.videoStr), num(r.streams-r.videoStr), delivering)},
		{"joining until every track delivers", dur(r.setup)},
		{"window", fmt.Sprintf("%.1f s", w1)},
		{"forwarded (received by all subscribers)", fmt.Sprintf("%.1f Mbit/s, %s packets/s (video %s, audio %s)", r.mbit()/w1, num(int(float64(r.sumPkts())/w1)), num(int(float64(r.pkts[1])/w1)), num(int(float64(r.pkts[0])/w1)))},
		{"loss (received of expected)", lossText(r)},
		{"forwarding latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s", dur(all.quantile(0.5)), dur(all.quantile(0.99)), dur(all.max()))},
	}
	if sc.Video {
		rows = append(rows,
			[2]string{"latency p50 / p99, video", fmt.Sprintf("%s / %s", dur(r.lat[1].quantile(0.5)), dur(r.lat[1].quantile(0.99)))},
			[2]string{"latency p50 / p99, audio", fmt.Sprintf("%s / %s", dur(r.lat[0].quantile(0.5)), dur(r.lat[0].quantile(0.99)))})
	}
	rows = append(rows,
		[2]string{"daemon CPU", fmt.Sprintf("%.2f s in %.1f s: **%.2f of one core**", r.daemonCPU.Seconds(), w1, r.daemonCores())},
		[2]string{"daemon CPU per forwarded Mbit", fmt.Sprintf("%.4f s", r.cpuPerMbit())},
		[2]string{"daemon CPU per 1,000 forwarded packets", fmt.Sprintf("%.4f s (%.1f µs per packet)", r.cpuPerKPkt(), r.cpuPerKPkt()*1000)},
		[2]string{"daemon RSS", fmt.Sprintf("%s before the clients joined; with them %s at the window's start, %s at its end", mb(float64(r.rssBefore)), mb(float64(r.rssStart)), mb(float64(r.rssWith)))},
		[2]string{"daemon RSS per participant (per forwarded track)", fmt.Sprintf("%s (%s)", mb(r.rssPerParticipant()), mb(float64(r.rssWith-r.rssBefore)/float64(max(1, r.streams))))},
		[2]string{"bench process CPU (all clients)", fmt.Sprintf("%.2f of one core", r.benchCores())},
		[2]string{"machine busy (/proc/stat)", fmt.Sprintf("%.0f%% of %d cores; %.2f cores busy with neither the daemon nor the bench", 100*r.machineUse, cores, r.outsideLoad(cores))},
	)
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---|")
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], row[1])
	}
	fmt.Fprintln(w)
	if r.saturated(cores) {
		fmt.Fprintf(w, "**The machine was saturated** (%.0f%% of %d cores busy: the daemon %.2f, the %d clients %.2f, other work %.2f). The daemon waited for CPU, so its throughput here is a lower bound on what it can do alone, and the latencies and loss include time spent waiting for a core, on both sides.\n\n",
			100*r.machineUse, cores, r.daemonCores(), r.total, r.benchCores(), r.outsideLoad(cores))
	}
	if r.stale > 0 || r.malformed > 0 {
		fmt.Fprintf(w, "Packets from the window that arrived more than %s after it: %d; packets without a bench timestamp: %d.\n\n", graceTime, r.stale, r.malformed)
	}
	if r.daemonWarnings > 0 {
		fmt.Fprintf(w, "civicd logged %d warnings or errors during this scenario (run with -v to see the last ones).\n\n", r.daemonWarnings)
	}
	if !ticksExact {
		fmt.Fprintln(w, "`getconf CLK_TCK` failed; CPU times assume 100 ticks per second.")
		fmt.Fprintln(w)
	}
}

// writeSummary prints one row per scenario.
func writeSummary(w io.Writer, rs []*result, cores int) {
	fmt.Fprintln(w, "### Summary")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | participants | forwarded Mbit/s | forwarded packets/s | daemon cores | CPU-s per Mbit | CPU-s per 1,000 packets | p50 | p99 | loss | RSS per participant | bench cores | other load, cores |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		all := r.latAll()
		w1 := r.window.Seconds()
		fmt.Fprintf(w, "| (%s) | %d | %.1f | %s | %.2f | %.4f | %.4f | %s | %s | %.3f%% | %s | %.2f | %.2f |\n",
			r.sc.Name, r.total, r.mbit()/w1, num(int(float64(r.sumPkts())/w1)), r.daemonCores(), r.cpuPerMbit(), r.cpuPerKPkt(),
			dur(all.quantile(0.5)), dur(all.quantile(0.99)), 100*r.loss(), mb(r.rssPerParticipant()), r.benchCores(), r.outsideLoad(cores))
	}
	fmt.Fprintln(w)
}

// lossText is the loss row: the share lost and the counts.
func lossText(r *result) string {
	got, want := r.sumPkts(), r.sumExpected()
	if got > want {
		return fmt.Sprintf("0%% (%s received of %s expected: %s retransmitted twice)", num(int(got)), num(int(want)), num(int(got-want)))
	}
	return fmt.Sprintf("%.3f%% (%s received of %s expected)", 100*r.loss(), num(int(got)), num(int(want)))
}

// dur prints a latency in ms with two significant decimals.
func dur(d time.Duration) string {
	ms := float64(d) / 1e6
	switch {
	case d == histOverflow:
		return "over 1 s"
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

func mb(b float64) string { return fmt.Sprintf("%.1f MB", b/1e6) }

// num prints n with thousands separators.
func num(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
