package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Process CPU from /proc, for the SIP parts. On this kind of machine (a
// small VM) the machine-wide counters of /proc/stat miss much of the CPU
// that short, bursty work uses (civicd answering SIP: /proc/stat showed a
// quarter of what /proc/PID/stat did), so the load the rest of the
// machine put on it is summed from the processes' own counters instead.

// procStat is what civicbench reads of one /proc/PID/stat: the parent,
// and the CPU time (user and system) of the process, in clock ticks.
type procStat struct {
	ppid int
	self int64
}

// readProcStat parses /proc/PID/stat.
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	// f[0] is field 3 (state), f[1] ppid (4); utime and stime are
	// fields 14 and 15.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{ppid: ppid, self: u + s}, true
}

// allProcs reads every process's stat.
func allProcs() map[int]procStat {
	out := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(pid); ok {
			out[pid] = st
		}
	}
	return out
}

// othersCPU is the CPU, in clock ticks, that processes other than the
// excluded ones (and their descendants) used between two allProcs
// snapshots: the growth of each live process's own time, and all of it
// for a process that appeared in between. A process that ended in between
// is missed (its parent's children time would count all its life, not
// just the window), so this is a lower bound.
func othersCPU(before, after map[int]procStat, exclude []int) int64 {
	ours := map[int]bool{}
	for _, pid := range exclude {
		ours[pid] = true
	}
	// Descendants of the excluded processes are ours too (Kamailio's
	// workers, sipp's threads are not processes).
	for changed := true; changed; {
		changed = false
		for pid, st := range after {
			if !ours[pid] && ours[st.ppid] {
				ours[pid], changed = true, true
			}
		}
	}
	var sum int64
	for pid, st := range after {
		if ours[pid] {
			continue
		}
		b := before[pid] // zero when the process is new
		if b.self > st.self {
			b = procStat{} // the pid was reused
		}
		sum += st.self - b.self
	}
	return sum
}

// procTree is a process and its children (Kamailio forks its workers).
type procTree struct{ root int }

// pids is the root and every process whose parent is in the tree.
func (t *procTree) pids() []int {
	procs := allProcs()
	in := map[int]bool{t.root: true}
	for changed := true; changed; {
		changed = false
		for pid, st := range procs {
			if in[st.ppid] && !in[pid] {
				in[pid], changed = true, true
			}
		}
	}
	out := make([]int, 0, len(in))
	for pid := range in {
		out = append(out, pid)
	}
	return out
}

// cpu is the CPU time of every process in the tree, in clock ticks.
func (t *procTree) cpu() (int64, error) {
	var sum int64
	for _, pid := range t.pids() {
		v, err := procCPU(pid)
		if err != nil && pid == t.root {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// peakRSS is the sum of the processes' VmHWM.
func (t *procTree) peakRSS() (int64, error) {
	var sum int64
	for _, pid := range t.pids() {
		v, err := procPeakRSS(pid)
		if err != nil && pid == t.root {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// udpDrops is the number of datagrams the kernel dropped for the UDP
// socket bound to port on 127.0.0.1 or the wildcard address because its
// receive buffer was full (the last column of /proc/net/udp). ok is false
// when no such socket exists.
func udpDrops(port int) (drops uint64, ok bool) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, false
	}
	return parseUDPDrops(string(b), port)
}

// parseUDPDrops reads the drops of port from /proc/net/udp's text.
func parseUDPDrops(text string, port int) (uint64, bool) {
	want := []string{fmt.Sprintf("0100007F:%04X", port), fmt.Sprintf("00000000:%04X", port)}
	var sum uint64
	found := false
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 13 || (f[1] != want[0] && f[1] != want[1]) {
			continue
		}
		n, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			continue
		}
		sum, found = sum+n, true
	}
	return sum, found
}
