package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSFiles are the files of a TLS client configuration and the settings that
// named them, so that a bad file stops the service with the setting to change.
type TLSFiles struct {
	// CA replaces the system roots when set (PEM). Cert and Key give a
	// client certificate for mutual TLS, both or neither.
	CA, Cert, Key string
	// CAVar, CertVar and KeyVar name the settings, for errors.
	CAVar, CertVar, KeyVar string
}

// Config reads the files and returns the client configuration: TLS 1.2 at
// least, the server's name checked against its certificate.
func (f TLSFiles) Config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.CAVar, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading %s %s: no PEM certificate found", f.CAVar, f.CA)
		}
		tc.RootCAs = pool
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("loading %s and %s: %w", f.CertVar, f.KeyVar, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
