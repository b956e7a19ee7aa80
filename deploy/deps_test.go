// The tests in this folder check reftrail's deployment files where no Docker
// engine runs: docker-compose.yml against the environment variables each
// service's Go code reads and the Dockerfile targets it builds, the Grafana
// provisioning under deploy/grafana against compose and
// schemas/clickhouse/queries, and what the shipped binaries link.
// `go test ./deploy -update` regenerates the Grafana dashboard from the
// queries.
package deploy_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/reftrail/reftrail"

// shipped are the binaries reftrail ships: the services and the operator
// tools. Development helpers live under internal/dev, which none of these may
// link, so a demo or test kit can never end up in production.
func shipped(t *testing.T) []string {
	t.Helper()
	var pkgs []string
	for _, p := range goList(t, "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "./...") {
		if !strings.HasPrefix(p, module+"/internal/dev/") && !strings.HasPrefix(p, module+"/e2e") {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no main packages")
	}
	return pkgs
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

func TestShippedBinariesLinkNoDevelopmentCode(t *testing.T) {
	for _, pkg := range shipped(t) {
		t.Run(filepath.Base(pkg), func(t *testing.T) {
			for _, dep := range goList(t, "-deps", pkg) {
				if strings.HasPrefix(dep, module+"/internal/dev/") {
					t.Errorf("%s links %s: development code must not ship", pkg, dep)
				}
			}
		})
	}
}

// TestIngestLinksNoAvro keeps ingest, which forwards raw bytes, free of the
// Avro codec and the schema registry client: only internal/eventcodec may
// import them.
func TestIngestLinksNoAvro(t *testing.T) {
	for _, dep := range goList(t, "-deps", "./ingest") {
		for _, banned := range []string{"github.com/hamba/avro", "github.com/twmb/franz-go/pkg/sr", module + "/internal/eventcodec"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("ingest links %s", dep)
			}
		}
	}
}

// TestOnlyEventcodecImportsAvro keeps the archived Avro library and the
// registry client behind one package, so they can be replaced in one place.
func TestOnlyEventcodecImportsAvro(t *testing.T) {
	lines := goList(t, "-f", "{{.ImportPath}}|{{join .Imports \",\"}}", "./...")
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, "|")
		if pkg == module+"/internal/eventcodec" {
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, "github.com/hamba/avro") || imp == "github.com/twmb/franz-go/pkg/sr" {
				t.Errorf("%s imports %s; only internal/eventcodec may", pkg, imp)
			}
		}
	}
}
