package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chcluster"
	"github.com/reftrail/reftrail/internal/dev/traffic"
)

// TestIntegrationPipelineCluster runs the pipeline against two ClickHouse
// replicas of one shard (CLICKHOUSE_CLUSTER set, so sink migrates ON CLUSTER
// with replicated engines) with sink writing through the first. The second
// replica is stopped halfway through the stream, and sink is SIGKILLed and
// restarted meanwhile: with nothing to migrate it must start without the
// missing replica. Once restarted, the replica catches up, and the queries
// read exactly the plan from it.
func TestIntegrationPipelineCluster(t *testing.T) {
	c := chcluster.Start(t, 2)
	writer, reader := c.Replicas[0], c.Replicas[1]
	const db = "reftrail_e2e"
	p := preparePipeline(t, db, 3, []string{"CLICKHOUSE_ADDR=" + writer.Addr, "CLICKHOUSE_DATABASE=" + db,
		"CLICKHOUSE_CLUSTER=" + chcluster.Name})
	p.addEnrich("enrich")
	// A static member: the restarted sink takes its partitions back at once
	// instead of after the killed one's session timeout.
	p.addSink("sink", "SINK_INSTANCE_ID=e2e-sink")
	for _, name := range []string{"ingest", "enrich", "sink"} {
		p.start(name)
	}

	plan, err := traffic.NewPlan(traffic.Options{Seed: 17, Participants: 400})
	if err != nil {
		t.Fatal(err)
	}
	webhooks := plan.Webhooks()
	half := len(webhooks) / 2
	opts := traffic.SendOptions{Concurrency: 16, Retries: 5}
	if err := p.send(context.Background(), webhooks[:half], opts); err != nil {
		t.Fatal(err)
	}
	reader.Stop(t)
	p.kill("sink")
	p.start("sink")
	if err := p.send(context.Background(), webhooks[half:], opts); err != nil {
		t.Fatal(err)
	}
	p.checkStoredIn(writer.Conn(t, db), plan.Expected(), 60*time.Second)
	reader.Restart(t)
	p.checkStoredIn(reader.Conn(t, db), plan.Expected(), 60*time.Second)
}
