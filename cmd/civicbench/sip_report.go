package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// The targets for the SIP side, on a 2-core machine.
const (
	targetRegisterRate = 3000              // authenticated REGISTER/s, with no failures
	targetRegisterRSS  = 300 * 1000 * 1000 // bytes
	targetCallRate     = 200               // call set-ups per second
	targetRelayCores   = 1.0               // for the concurrent relayed calls
)

// writeSIPResult prints one SIP measurement as a Markdown section.
func writeSIPResult(w io.Writer, r *sipResult, cores int) {
	s := r.Sipp.Screen
	fmt.Fprintf(w, "### %s (%s): %s\n\n", r.Part, partTitle(r.Part), r.Server)
	fmt.Fprintf(w, "```\n%s\n```\n\n", strings.Join(r.SippCommands, "\n"))
	what := "registration"
	if r.Unit == "calls/s" {
		what = "call"
	}
	rows := [][2]string{
		{"offered", offeredText(r)},
		{"successful / failed", fmt.Sprintf("%s / %s", num(s.Successful), failedText(s.Failed))},
	}
	if !r.Relay {
		rows = append(rows, [2]string{"achieved", fmt.Sprintf("**%s %s** (successful over sipp's %.2f s%s)", num(int(r.Achieved()+0.5)), r.Unit, s.TotalTime.Seconds(), holdText(r.Hold))})
	}
	rows = append(rows,
		[2]string{"retransmissions", fmt.Sprintf("%s by sipp (the server's answer was late), %s by the server (sipp's answer was late)", num(s.RetransSent()), num(s.RetransReceived()))},
		[2]string{"unexpected messages and timeouts", num(s.Unexpected())},
		[2]string{"UDP datagrams dropped, receive buffer full (/proc/net/udp)", fmt.Sprintf("%s at the server's SIP socket, %s at sipp's", num(int(r.ServerDrops)), num(int(r.SippDrops)))},
	)
	if len(s.Repartitions) > 0 {
		var parts []string
		for _, k := range sortedKeys(s.Repartitions) {
			parts = append(parts, fmt.Sprintf("%s p50 %s, p99 %s", k, bucketText(s.Repartitions[k], 0.5), bucketText(s.Repartitions[k], 0.99)))
		}
		rows = append(rows, [2]string{"response times (sipp's rtd buckets)", strings.Join(parts, "; ")})
	}
	perOp := fmt.Sprintf("; %.0f µs per successful %s", float64(r.CPUPerOp())/1e3, what)
	if r.Relay {
		perOp = ", setting the calls up, holding and ending them"
	}
	rows = append(rows, [2]string{"server CPU during the load", fmt.Sprintf("%.2f s in %.1f s: %.2f cores%s", r.CPU.Seconds(), r.Sipp.Wall.Seconds(), r.Cores(), perOp)})
	if r.Window > 0 {
		conc := "not read"
		if r.WindowConcurrent[1] > 0 {
			conc = fmt.Sprintf("%d-%d", r.WindowConcurrent[0], r.WindowConcurrent[1])
		}
		rows = append(rows, [2]string{"server CPU with every call up", fmt.Sprintf("%.2f s in a %.1f s window: **%.3f cores**, %.1f µs per relayed packet; calls up in the window (sipp's statistics, each second): %s", r.WindowCPU.Seconds(), r.Window.Seconds(), r.WindowCores(), float64(r.CPUPerPacket())/1e3, conc)})
	}
	rows = append(rows, [2]string{"server peak RSS (VmHWM)", fmt.Sprintf("%s (%s before the load)", mb(float64(r.PeakRSS)), mb(float64(r.RSSBefore)))})
	if r.Records != nil {
		var parts []string
		for _, k := range sortedKeys(r.Records) {
			parts = append(parts, fmt.Sprintf("%s %s", num(r.Records[k]), k))
		}
		rows = append(rows, [2]string{"call records", strings.Join(parts, ", ")})
	}
	if r.RTPPackets > 0 {
		answered := r.Records["answered"]
		perCall := 0.0
		if answered > 0 && r.Hold > 0 {
			perCall = float64(r.RTPPackets) / float64(answered) / 2 / r.Hold.Seconds()
		}
		rows = append(rows, [2]string{"RTP relayed (call records, both directions)", fmt.Sprintf("%s packets (%s from the callers, %s from the callees), about %s packets/s with every call up; %.1f per call, direction and second of the call (sipp sends 50)", num(int(r.RTPPackets)), num(int(r.RTPByLeg[0])), num(int(r.RTPByLeg[1])), num(int(r.RelayedPerSecond())), perCall)})
	}
	rows = append(rows,
		[2]string{"sipp CPU", sippCPUText(r)},
		[2]string{"other processes during the load", fmt.Sprintf("at least %.2f of the %d cores (the machine is shared; summed from every process's /proc counters)", r.OtherLoad(), cores)},
	)
	if r.Warnings > 0 {
		rows = append(rows, [2]string{"civicd warnings and errors logged", num(r.Warnings)})
	}
	if len(r.Notes) > 0 {
		rows = append(rows, [2]string{"notes", joinNotes(r.Notes)})
	}
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---|")
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], row[1])
	}
	fmt.Fprintln(w)
	if r.Sipp.Errors != "" && s.Failed > 0 {
		fmt.Fprintf(w, "Last lines of sipp's error file:\n\n```\n%s\n```\n\n", r.Sipp.Errors)
	}
}

// partTitle is a part's title from sipParts.
func partTitle(name string) string {
	for _, p := range sipParts {
		if p.Name == name {
			return p.Title
		}
	}
	return name
}

// offeredText describes the load sipp was asked for.
func offeredText(r *sipResult) string {
	switch {
	case r.Relay:
		return fmt.Sprintf("%s calls with G.711 (PCMU, 20 ms) both ways, placed at %s/s and held %.0f s each", num(r.Count), num(int(r.Offered)), r.Hold.Seconds())
	case r.Hold > 0:
		return fmt.Sprintf("%s calls/s, %s calls of %.1f s", num(int(r.Offered)), num(r.Count), r.Hold.Seconds())
	}
	return fmt.Sprintf("%s %s, %s registrations", num(int(r.Offered)), r.Unit, num(r.Count))
}

// writeSIPSummary prints one row per measurement, the targets, and the
// civicd/Kamailio ratios.
func writeSIPSummary(w io.Writer, rs []*sipResult) {
	fmt.Fprintln(w, "### SIP summary")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| part | server | offered | achieved | failed | retransmissions (sipp / server) | UDP drops (server / sipp) | server CPU | server cores | peak RSS | other load, cores | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	var civ, kam *sipResult
	for _, r := range rs {
		s := r.Sipp.Screen
		offered := fmt.Sprintf("%s %s", num(int(r.Offered)), r.Unit)
		achieved := num(int(r.Achieved() + 0.5))
		cpu := fmt.Sprintf("%.0f µs per op", float64(r.CPUPerOp())/1e3)
		used := fmt.Sprintf("%.2f", r.Cores())
		if r.Relay {
			offered = fmt.Sprintf("%d calls held %.0f s", r.Count, r.Hold.Seconds())
			achieved = fmt.Sprintf("%d-%d up", r.WindowConcurrent[0], r.WindowConcurrent[1])
			cpu = fmt.Sprintf("%.1f µs per relayed packet (%s/s)", float64(r.CPUPerPacket())/1e3, num(int(r.RelayedPerSecond())))
			used = fmt.Sprintf("%.3f", r.WindowCores())
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %.2f | %s |\n",
			r.Part, r.Server, offered, achieved, failedText(s.Failed),
			num(s.RetransSent()), num(s.RetransReceived()), num(int(r.ServerDrops)), num(int(r.SippDrops)), cpu, used, mb(float64(r.PeakRSS)), r.OtherLoad(), targetText(r))
		switch {
		case r.Part == "sip-register" && r.Server == "civicd":
			civ = r
		case r.Part == "sip-kamailio" && strings.Contains(r.Server, "digest"):
			kam = r
		}
	}
	fmt.Fprintln(w)
	if civ != nil && kam != nil && kam.CPUPerOp() > 0 {
		fmt.Fprintf(w, "civicd / Kamailio, both with digest authentication at %s REGISTER/s: **%.1f× the CPU per registration** (%.0f µs against %.0f µs), %.1f× the peak RSS (%s against %s), achieved rate %.2f×.\n\n",
			num(int(civ.Offered)), float64(civ.CPUPerOp())/float64(kam.CPUPerOp()), float64(civ.CPUPerOp())/1e3, float64(kam.CPUPerOp())/1e3,
			float64(civ.PeakRSS)/float64(max(1, kam.PeakRSS)), mb(float64(civ.PeakRSS)), mb(float64(kam.PeakRSS)), civ.Achieved()/max(1, kam.Achieved()))
	}
}

// targetText says whether a measurement meets the target.
func targetText(r *sipResult) string {
	if r.Server != "civicd" {
		return "reference"
	}
	s := r.Sipp.Screen
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	switch r.Part {
	case "sip-register":
		ok := r.Achieved() >= 0.98*targetRegisterRate && s.Failed == 0 && r.PeakRSS < targetRegisterRSS && r.Offered >= targetRegisterRate
		return fmt.Sprintf("≥ %s/s, 0 failed, RSS < %s: %s", num(targetRegisterRate), mb(targetRegisterRSS), verdict(ok))
	case "sip-calls":
		ok := r.Achieved() >= 0.98*targetCallRate && s.Failed == 0 && r.Offered >= targetCallRate
		return fmt.Sprintf("≥ %d set-ups/s: %s", targetCallRate, verdict(ok))
	case "sip-relay":
		ok := r.Window > 0 && r.WindowCores() < targetRelayCores && s.Failed == 0 && r.Count >= 200 && r.WindowConcurrent[0] >= 200
		return fmt.Sprintf("200 calls under one core: %s", verdict(ok))
	}
	return ""
}

// bucketText is the bound of the repartition bucket quantile q falls in.
func bucketText(b []sippBucket, q float64) string {
	d, open := sippQuantile(b, q)
	switch {
	case d == 0 && !open:
		return "none"
	case open:
		return fmt.Sprintf("≥ %d ms", d.Milliseconds())
	}
	return fmt.Sprintf("< %d ms", d.Milliseconds())
}

func failedText(n int) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("**%s**", num(n))
}

func holdText(hold time.Duration) string {
	if hold <= 0 {
		return ""
	}
	return fmt.Sprintf(" less one call length, %.1f s", hold.Seconds())
}

func sippCPUText(r *sipResult) string {
	t := fmt.Sprintf("%.2f s (%.2f cores) placing the load", r.Sipp.CPU.Seconds(), r.Sipp.CPU.Seconds()/max(0.001, r.Sipp.Wall.Seconds()))
	if r.UAS != nil {
		t += fmt.Sprintf("; %.2f s answering", r.UAS.CPU.Seconds())
	}
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
