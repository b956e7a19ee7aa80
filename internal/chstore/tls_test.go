package chstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/config"
)

// selfSigned returns a certificate for 127.0.0.1 and the path of its PEM.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clickhouse test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// TestConnectTLS connects to a TLS listener standing in for a TLS-only
// ClickHouse port (9440) and checks whether the TLS handshake completes: it
// must with CLICKHOUSE_TLS and the server's CA, and must not without TLS or
// with a CA that did not sign the server's certificate.
func TestConnectTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	_, otherCA := selfSigned(t)
	tests := []struct {
		name          string
		cfg           Config
		wantHandshake bool
	}{
		{name: "TLS with the server's CA", cfg: Config{TLS: true, CAFile: caFile}, wantHandshake: true},
		{name: "no TLS", cfg: Config{}},
		{name: "TLS with another CA", cfg: Config{TLS: true, CAFile: otherCA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			handshake := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					handshake <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handshake <- c.(*tls.Conn).Handshake()
			}()
			tt.cfg.Addr, tt.cfg.DialTimeout, tt.cfg.ReadTimeout = ln.Addr().String(), 2*time.Second, 2*time.Second
			conn, err := Connect(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = conn.Ping(ctx) // not a ClickHouse server: only the handshake matters
			if err := <-handshake; (err == nil) != tt.wantHandshake {
				t.Errorf("server-side handshake error = %v, want success %v", err, tt.wantHandshake)
			}
		})
	}
}

func TestConfigFromEnvTLS(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: Config{Addr: "127.0.0.1:9000", Database: "reftrail", Username: "default"}},
		{name: "a CA file implies TLS", env: map[string]string{"CLICKHOUSE_ADDR": "ch.example:9440", "CLICKHOUSE_CA_FILE": "/etc/ca.pem"},
			want: Config{Addr: "ch.example:9440", Database: "reftrail", Username: "default", TLS: true, CAFile: "/etc/ca.pem"}},
		{name: "TLS with system roots", env: map[string]string{"CLICKHOUSE_TLS": "true"},
			want: Config{Addr: "127.0.0.1:9000", Database: "reftrail", Username: "default", TLS: true}},
		{name: "client certificate without key", env: map[string]string{"CLICKHOUSE_TLS_CERT_FILE": "/c.pem"},
			wantErr: `setting CLICKHOUSE_TLS_CERT_FILE="/c.pem": CLICKHOUSE_TLS_CERT_FILE and CLICKHOUSE_TLS_KEY_FILE must be set together`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.NewEnv(func(k string) string { return tt.env[k] })
			got := ConfigFromEnv(env)
			if tt.wantErr != "" {
				if err := env.Err(); err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err := env.Err(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnectFailsOnUnreadableCAFile(t *testing.T) {
	_, err := Connect(Config{TLS: true, CAFile: "/nonexistent/ca.pem"})
	if err == nil {
		t.Fatal("Connect with a missing CLICKHOUSE_CA_FILE succeeded")
	}
}
