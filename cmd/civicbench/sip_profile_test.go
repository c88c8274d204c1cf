package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"civic/internal/store"
	"civic/voip"
)

// BenchmarkSIPRegister runs civicd's SIP service (voip) in this process
// under sipp's digest REGISTER load, the load of `civicbench -scenario
// sip-register`, so that -cpuprofile sees civicd's SIP code. With
// CIVICBENCH_HEAP_PROFILE=FILE it also writes a heap profile (in-use
// memory) right after the load, while sipgo still holds the finished
// transactions. It needs sipp, and is skipped without it; -benchtime is
// the number of registrations.
//
// CIVICBENCH_SIP_RATE sets the offered REGISTER/s (default 3000).
//
// CIVICBENCH_SIP_TIMER_J=DURATION sets sipgo's Timer J (how long a
// finished non-INVITE server transaction is kept to absorb
// retransmissions; 64*T1 = 32 s over UDP) in this process first: a what-if
// for voip, which this benchmark does not change. 0 ends each transaction
// as soon as it is answered, as a stateless registrar (Kamailio's sl)
// does.
//
//	go test ./cmd/civicbench -run '^$' -bench SIPRegister -benchtime 30000x -cpuprofile cpu.out
//	CIVICBENCH_HEAP_PROFILE=heap.out go test ./cmd/civicbench -run '^$' -bench SIPRegister -benchtime 30000x
func BenchmarkSIPRegister(b *testing.B) {
	sipp := lookTool("sipp", "sip-tester")
	if sipp == "" {
		b.Skip("sipp is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if v := os.Getenv("CIVICBENCH_SIP_TIMER_J"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("CIVICBENCH_SIP_TIMER_J: %v", err)
		}
		old := sip.Timer_J
		sip.Timer_J = d
		defer func() { sip.Timer_J = old }()
	}
	dir := b.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// The daemon logs JSON at info level; so does this service, to
	// nowhere, so that formatting the log lines is part of the cost.
	logger := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := voip.New(voip.Config{
		Listen: "127.0.0.1:0", DigestAlgorithms: []string{"MD5"},
		MaxFailuresPerSource: 1000000, MaxFailuresPerExtension: 1000000, MaxRequestsPerSource: -1,
		RTPPortLow: 20000, RTPPortHigh: 21999,
	}, st.DB(), nil, nil, logger)
	if err != nil {
		b.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(ctx) }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = svc.Shutdown(sctx)
		<-runErr
	}()
	const extensions = 1000
	for i := range extensions {
		n := 10000 + i
		in := voip.ExtensionInput{Extension: voip.Extension{Number: strconv.Itoa(n), Name: fmt.Sprintf("Bench %d", n)}, Password: sipPassword(n)}
		if _, err := svc.CreateExtension(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	rate := 3000
	if v := os.Getenv("CIVICBENCH_SIP_RATE"); v != "" {
		if rate, err = strconv.Atoi(v); err != nil {
			b.Fatalf("CIVICBENCH_SIP_RATE: %v", err)
		}
	}
	cfg := sipConfig{Sipp: sipp, Ticks: 100, Extensions: extensions, RegRate: rate, RegCount: b.N, Log: slog.New(slog.DiscardHandler)}
	if ticks, ok := clockTicks(); ok {
		cfg.Ticks = ticks
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	r, err := registerLoad(ctx, cfg, filepath.Join(dir, "sipp"), svc.Addr(), os.Getpid(), nil, "civicd in process", true)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	s := r.Sipp.Screen
	if s.Failed > 0 {
		b.Errorf("%d of %d registrations failed; messages %+v; last errors:\n%s", s.Failed, b.N, s.Messages, r.Sipp.Errors)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(r.Achieved(), "REGISTER/s")
	b.ReportMetric(float64(r.CPU.Microseconds())/float64(max(1, s.Successful)), "cpu-µs/op")
	b.ReportMetric(float64(ms.HeapAlloc)/1e6, "heap-MB")
	b.ReportMetric(float64(ms.HeapAlloc-min(ms.HeapAlloc, ms0.HeapAlloc))/float64(max(1, s.Successful)), "heap-B/registration")
	b.ReportMetric(float64(r.PeakRSS)/1e6, "peak-RSS-MB")
	b.ReportMetric(float64(r.ServerDrops), "udp-drops")
	b.ReportMetric(float64(s.RetransSent()), "sipp-retrans")
	if path := os.Getenv("CIVICBENCH_HEAP_PROFILE"); path != "" {
		runtime.GC()
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
	}
}
