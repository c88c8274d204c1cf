package webui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	autoCertValidity = 825 * 24 * time.Hour
	autoCertRenew    = 30 * 24 * time.Hour
)

// loadTLS returns the console's TLS config: the configured files, or the
// self-signed certificate in the data dir, made on first run.
func (s *Server) loadTLS() (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch s.opts.TLS {
	case "files":
		cert, err = tls.LoadX509KeyPair(s.opts.CertFile, s.opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("console: load http.cert_file %s and http.key_file %s: %w", s.opts.CertFile, s.opts.KeyFile, err)
		}
	case "auto", "":
		cert, err = EnsureSelfSigned(filepath.Join(s.opts.DataDir, "tls"), s.opts.Hostnames, time.Now())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(cert.Certificate[0])
		s.log.Info("console uses a self-signed certificate", "dir", filepath.Join(s.opts.DataDir, "tls"), "sha256", hex.EncodeToString(sum[:]))
	default:
		return nil, fmt.Errorf("console: http.tls %q: expected auto, off or files", s.opts.TLS)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// EnsureSelfSigned loads cert.pem and key.pem from dir, or makes a new
// ECDSA P-256 self-signed pair there when they are missing, unreadable as a
// pair, or expire within 30 days. hosts become the SANs (IPs or DNS names).
func EnsureSelfSigned(dir string, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		leaf, perr := x509.ParseCertificate(cert.Certificate[0])
		if perr == nil && now.Add(autoCertRenew).Before(leaf.NotAfter) {
			return cert, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("console: load certificate in %s: %w (delete both files to make a new one)", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("console: create %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("console: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("console: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "civicd", Organization: []string{"Civic"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(autoCertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("console: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("console: encode key: %w", err)
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// writePEM writes one PEM block atomically.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("console: write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
