package webui

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEnsureSelfSigned(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	cert, err := EnsureSelfSigned(dir, []string{"civic.example", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(leaf.DNSNames, "civic.example") || len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("SANs = %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
	// A second call reuses the same certificate...
	again, err := EnsureSelfSigned(dir, nil, now)
	if err != nil || !slices.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Fatalf("second call made a new certificate (%v)", err)
	}
	// ...until it is about to expire.
	renewed, err := EnsureSelfSigned(dir, []string{"civic.example"}, now.Add(autoCertValidity-24*time.Hour))
	if err != nil || slices.Equal(renewed.Certificate[0], cert.Certificate[0]) {
		t.Fatalf("expiring certificate was not renewed (%v)", err)
	}
}

// TestTLSFiles serves the console with configured certificate files and
// checks a client that trusts only that certificate can reach it.
func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, err := EnsureSelfSigned(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(o *Options) {
		o.TLS = "files"
		o.CertFile = filepath.Join(dir, "cert.pem")
		o.KeyFile = filepath.Join(dir, "key.pem")
	})
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ts.srv.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("status %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

func TestTLSFilesMissing(t *testing.T) {
	ts := newTestServer(t)
	deps := Deps{Auth: ts.auth, Audit: ts.audit, Bus: ts.bus, Metrics: prometheus.NewRegistry()}
	_, err := New(Options{TLS: "files", CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}, deps, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "http.cert_file") {
		t.Fatalf("New with missing certificate files: %v, want an error naming http.cert_file", err)
	}
}
