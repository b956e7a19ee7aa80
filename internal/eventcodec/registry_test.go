package eventcodec

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/config"
)

func TestRegistryConfigFromEnv(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    RegistryConfig
		wantErr string
	}{
		{name: "none"},
		{name: "credentials in the URL move out of it", env: map[string]string{"SCHEMA_REGISTRY_URL": "https://reftrail:hunter2@registry:8081/"},
			want: RegistryConfig{URL: "https://registry:8081/", Username: "reftrail", Password: "hunter2"}},
		{name: "basic auth, password from a file, CA", env: map[string]string{"SCHEMA_REGISTRY_URL": "https://registry", "SCHEMA_REGISTRY_USERNAME": "u",
			"SCHEMA_REGISTRY_PASSWORD_FILE": pw, "SCHEMA_REGISTRY_CA_FILE": "/etc/ca.pem"},
			want: RegistryConfig{URL: "https://registry", Username: "u", Password: "from-file", CAFile: "/etc/ca.pem"}},
		{name: "bad URL with credentials", env: map[string]string{"SCHEMA_REGISTRY_URL": "registry://u:hunter2@"},
			wantErr: `setting SCHEMA_REGISTRY_URL="registry://u:xxxxx@": must be an http:// or https:// URL`},
		{name: "user without password", env: map[string]string{"SCHEMA_REGISTRY_URL": "https://registry", "SCHEMA_REGISTRY_USERNAME": "u"},
			wantErr: `setting SCHEMA_REGISTRY_USERNAME="u": SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set together`},
		{name: "credentials without a registry", env: map[string]string{"SCHEMA_REGISTRY_USERNAME": "u"},
			wantErr: `setting SCHEMA_REGISTRY_URL: required by SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD and SCHEMA_REGISTRY_CA_FILE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.NewEnv(func(k string) string { return tt.env[k] })
			got := RegistryConfigFromEnv(env)
			if tt.wantErr != "" {
				err := env.Err()
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("Err %q prints the password", err)
				}
				return
			}
			if err := env.Err(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RegistryConfig (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegistryClientAuthAndTLS checks that the client sends basic auth and
// trusts the configured CA, and that its errors never print the password.
func TestRegistryClientAuthAndTLS(t *testing.T) {
	registry := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if u, p, ok := r.BasicAuth(); !ok || u != "reftrail" || p != "hunter2" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error_code": 401, "message": "unauthorized"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"schema": `"string"`})
	}))
	defer registry.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: registry.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	withCreds := strings.Replace(registry.URL, "https://", "https://reftrail:hunter2@", 1)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "credentials in the URL", env: map[string]string{"SCHEMA_REGISTRY_URL": withCreds, "SCHEMA_REGISTRY_CA_FILE": ca}},
		{name: "credentials in settings", env: map[string]string{"SCHEMA_REGISTRY_URL": registry.URL, "SCHEMA_REGISTRY_CA_FILE": ca,
			"SCHEMA_REGISTRY_USERNAME": "reftrail", "SCHEMA_REGISTRY_PASSWORD": "hunter2"}},
		{name: "wrong password", env: map[string]string{"SCHEMA_REGISTRY_URL": strings.Replace(withCreds, "hunter2", "hunter3", 1), "SCHEMA_REGISTRY_CA_FILE": ca}, wantErr: true},
		{name: "no CA", env: map[string]string{"SCHEMA_REGISTRY_URL": withCreds}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.NewEnv(func(k string) string { return tt.env[k] })
			cfg := RegistryConfigFromEnv(env)
			if err := env.Err(); err != nil {
				t.Fatal(err)
			}
			client, err := NewRegistryClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.SchemaByID(context.Background(), 1)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SchemaByID = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "hunter") || strings.Contains(err.Error(), "reftrail:")) {
				t.Errorf("error %q prints the credentials", err)
			}
		})
	}
}
