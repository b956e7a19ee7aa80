package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Bounds on one delivery attempt. A receiver is expected to answer at once
// and do its work later, as Svix and Standard Webhooks advise; the body of its
// answer is read only up to maxResponseBytes (enough for an error message)
// and then the connection is dropped.
const (
	dialTimeout      = 5 * time.Second
	tlsTimeout       = 5 * time.Second
	maxResponseBytes = 4 << 10
	maxHeaderBytes   = 16 << 10
)

// errAddressNotAllowed is returned, wrapped, for a dial to an address that is
// not public while private addresses are not allowed.
var errAddressNotAllowed = errors.New("address not allowed")

// checkURL refuses endpoint URLs notify must not call: anything but https://
// (http:// too when allowPrivate), user info, a missing host, and literal
// addresses that are not public. Names are checked again when dialled, since
// DNS may answer differently then.
func checkURL(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme == "http" && allowPrivate:
	case u.Scheme != "https":
		return nil, errors.New("must be https:// (http:// only with NOTIFY_ALLOW_PRIVATE=true)")
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host")
	}
	if u.User != nil {
		return nil, errors.New("must not carry user info; put credentials elsewhere")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && !publicAddr(ip) {
		return nil, errors.New("is not a public address (NOTIFY_ALLOW_PRIVATE=true allows it)")
	}
	return u, nil
}

// nonPublic lists the ranges that are neither loopback, private nor link-local
// by netip's methods but still not the public internet.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed a private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed a private IPv4
	netip.MustParsePrefix("100::/64"),        // discard
}

// publicAddr reports whether ip is a public unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// newHTTPClient returns the client deliveries go through. Every endpoint URL
// is hostile input (server-side request forgery): unless allowPrivate, the
// dialer's Control function refuses any address that is not public, which
// checks the address actually connected to after DNS, whatever the name said
// and however it resolved. No proxy from the environment is used (it would
// hide the real destination), redirects are not followed (a 3xx is a failed
// attempt), and timeout bounds the whole attempt, body included. rootCAs
// replaces the system roots when not nil.
func newHTTPClient(allowPrivate bool, timeout time.Duration, rootCAs *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dialing %s: %w", network, errAddressNotAllowed)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("dialing a non-public address: %w", errAddressNotAllowed)
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: rootCAs},
		TLSHandshakeTimeout:    tlsTimeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConnsPerHost:    endpointConcurrency,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// loadRootCAs returns the system roots plus the PEM certificates in pem, for
// endpoints behind a private CA (NOTIFY_CA_FILE).
func loadRootCAs(pem []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}
