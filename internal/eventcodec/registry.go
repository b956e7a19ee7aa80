package eventcodec

import (
	"fmt"
	"net/url"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/reftrail/reftrail/internal/config"
)

// RegistryConfig is how enrich and sink reach the schema registry.
type RegistryConfig struct {
	// URL is SCHEMA_REGISTRY_URL: empty selects single-object encoding,
	// which needs no registry. It never holds credentials: a user and
	// password written in it are moved to Username and Password, so that no
	// error or log prints them.
	URL string
	// Username and Password authenticate with HTTP basic auth
	// (SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD or
	// SCHEMA_REGISTRY_PASSWORD_FILE). Send them over https only.
	Username, Password string
	// CAFile replaces the system roots for an https registry
	// (SCHEMA_REGISTRY_CA_FILE).
	CAFile string
}

// RegistryConfigFromEnv reads the SCHEMA_REGISTRY_* settings. A URL that is
// not http(s) stops the service at start instead of making it retry an
// unreachable registry; the error never repeats a password written in it.
func RegistryConfigFromEnv(env *config.Env) RegistryConfig {
	c := RegistryConfig{
		URL:      env.String("SCHEMA_REGISTRY_URL", ""),
		Username: env.String("SCHEMA_REGISTRY_USERNAME", ""),
		Password: env.Secret("SCHEMA_REGISTRY_PASSWORD"),
		CAFile:   env.String("SCHEMA_REGISTRY_CA_FILE", ""),
	}
	if c.URL == "" {
		if c.Username != "" || c.Password != "" || c.CAFile != "" {
			env.Fail("SCHEMA_REGISTRY_URL", "required by SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD and SCHEMA_REGISTRY_CA_FILE")
		}
		return c
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		env.Fail("SCHEMA_REGISTRY_URL", "must be an http:// or https:// URL")
		return c
	}
	if u.User != nil {
		if c.Username != "" || c.Password != "" {
			env.Fail("SCHEMA_REGISTRY_URL", "holds credentials, and so do SCHEMA_REGISTRY_USERNAME or SCHEMA_REGISTRY_PASSWORD: set only one")
		}
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		u.User = nil
		c.URL = u.String()
	}
	if (c.Username == "") != (c.Password == "") {
		env.Fail("SCHEMA_REGISTRY_USERNAME", "SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set together")
	}
	return c
}

// NewRegistryClient returns the schema registry client for cfg, or nil when
// cfg.URL is empty. The CA file is read here, so a bad path fails at start.
func NewRegistryClient(cfg RegistryConfig) (*sr.Client, error) {
	if cfg.URL == "" {
		return nil, nil
	}
	opts := []sr.ClientOpt{sr.URLs(cfg.URL)}
	if cfg.Username != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password))
	}
	if cfg.CAFile != "" {
		tc, err := config.TLSFiles{CA: cfg.CAFile, CAVar: "SCHEMA_REGISTRY_CA_FILE"}.Config()
		if err != nil {
			return nil, fmt.Errorf("creating schema registry client: %w", err)
		}
		opts = append(opts, sr.DialTLSConfig(tc))
	}
	client, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating schema registry client for SCHEMA_REGISTRY_URL: %w", err)
	}
	return client, nil
}
