package eventcodec

import (
	"fmt"
	"net/url"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/reftrail/reftrail/internal/config"
)

// RegistryURLFromEnv reads SCHEMA_REGISTRY_URL: empty selects single-object
// encoding, which needs no registry. A value that is not an http(s) URL stops
// the service at start instead of making it retry an unreachable registry.
func RegistryURLFromEnv(env *config.Env) string {
	raw := env.String("SCHEMA_REGISTRY_URL", "")
	if raw == "" {
		return ""
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		env.Fail("SCHEMA_REGISTRY_URL", "must be an http:// or https:// URL")
	}
	return raw
}

// NewRegistryClient returns the schema registry client for registryURL (as
// RegistryURLFromEnv read it), or nil when it is empty.
func NewRegistryClient(registryURL string) (*sr.Client, error) {
	if registryURL == "" {
		return nil, nil
	}
	client, err := sr.NewClient(sr.URLs(registryURL))
	if err != nil {
		return nil, fmt.Errorf("creating schema registry client for SCHEMA_REGISTRY_URL: %w", err)
	}
	return client, nil
}
