package debpkg

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	pkgs := []string{"clickhouse-server", "kcat", "zbar-tools"}
	tests := []struct {
		name      string
		debian    bool
		root      bool
		installed []string
		want      Decision
	}{
		{name: "all installed", debian: true, installed: pkgs, want: Decision{Action: Nothing}},
		{name: "all installed, root", debian: true, root: true, installed: pkgs, want: Decision{Action: Nothing}},
		{
			name: "Debian, root, two missing", debian: true, root: true, installed: []string{"kcat"},
			want: Decision{Action: Install, Missing: []string{"clickhouse-server", "zbar-tools"}, Command: "apt-get update && apt-get install -y clickhouse-server zbar-tools"},
		},
		{
			name: "Debian, not root", debian: true, installed: []string{"clickhouse-server", "zbar-tools"},
			want: Decision{Action: Tell, Missing: []string{"kcat"}, Command: "sudo apt-get update && sudo apt-get install -y kcat"},
		},
		{
			name: "not Debian, root", root: true,
			want: Decision{Action: Unsupported, Missing: pkgs},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Host{Debian: tt.debian, Root: tt.root, Installed: func(p string) bool {
				for _, i := range tt.installed {
					if i == p {
						return true
					}
				}
				return false
			}}
			if diff := cmp.Diff(tt.want, Decide(h, pkgs)); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "names and comments", in: "# what the tests use\nclickhouse-server clickhouse-client # storage\n\nkcat\n", want: []string{"clickhouse-server", "clickhouse-client", "kcat"}},
		{name: "only comments", in: "# nothing\n", wantErr: "names no package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadList(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ReadList error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadList: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadList (-want +got):\n%s", diff)
			}
		})
	}
}
