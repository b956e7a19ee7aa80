package chstore

import (
	"strings"
	"testing"

	"github.com/reftrail/reftrail/schemas"
)

// TestRenderCluster checks the cluster variant of the migrations, which needs
// ZooKeeper to run and so is only rendered here.
func TestRenderCluster(t *testing.T) {
	ms, err := loadMigrations(schemas.ClickHouse)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	r := renderer{database: "reftrail", opts: MigrateOptions{Cluster: "main", ReplicaPath: defaultReplicaPath}}
	got, err := r.render(ms[0].name, ms[0].text)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS reftrail.events ON CLUSTER main",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/reftrail/events', '{replica}', dedup_version)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered %s lacks %q:\n%s", ms[0].name, want, got)
		}
	}
	if n := len(splitStatements(got)); n != 1 {
		t.Errorf("%s has %d statements, want 1", ms[0].name, n)
	}
}
