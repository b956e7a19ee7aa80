package main

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/schemas"
)

// TestIntegrationSinkRegistryDown sends Confluent-framed events while the
// schema registry fails: sink must hold them (neither written nor
// dead-lettered), report not ready, and write them once the registry answers.
func TestIntegrationSinkRegistryDown(t *testing.T) {
	srv := chtest.Start(t)
	db := srv.NewDatabase(t)
	brokers := kafkatest.Brokers(t)

	schema, err := schemas.Avro.ReadFile("avro/referral_event.avsc")
	if err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, `{"error_code":50301,"message":"down for the test"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		json.NewEncoder(w).Encode(map[string]any{"schema": string(schema)})
	}))
	t.Cleanup(registry.Close)

	evs := testEvents("r", 100)
	recs := eventRecords(t, evs)
	for _, r := range recs {
		// Single-object header (10 bytes) → Confluent header (5 bytes), id 7.
		r.Value = append(binary.BigEndian.AppendUint32([]byte{0}, 7), r.Value[10:]...)
	}
	produce(t, brokers, recs)

	env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
	env["FLUSH_INTERVAL"], env["SCHEMA_REGISTRY_URL"] = "100ms", registry.URL
	s := startSink(t, env)
	waitFor(t, 60*time.Second, "retries while the registry is down", func() bool {
		m, _ := testenv.TryScrape(s.url)
		return testenv.Metric(m, "reftrail_sink_insert_retries_total") >= 2
	})
	testenv.WaitReadyz(t, s.url, http.StatusServiceUnavailable, 10*time.Second)
	m := testenv.Scrape(t, s.url)
	if got := testenv.Metric(m, "reftrail_sink_rows_written_total"); got != 0 {
		t.Errorf("rows written while the registry is down = %v, want 0 (held, not dead-lettered)", got)
	}

	up.Store(true)
	testenv.WaitReadyz(t, s.url, http.StatusOK, 30*time.Second)
	conn := srv.Conn(t, "")
	waitFor(t, 30*time.Second, "every event written", func() bool {
		return testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_rows_written_total", `table="events"`) == float64(len(evs))
	})
	if got, want := readCounts(t, conn, db), wantCounts(len(evs)); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	if got := testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_dead_letters_total"); got != 0 {
		t.Errorf("dead letters = %v, want 0", got)
	}
}

// TestIntegrationSinkWaitsForUnknownSchemaID sends Confluent-framed events
// whose schema id the registry does not know at first (a replica lagging the
// one enrich registered with): sink must wait for it, not dead-letter the
// events at once, and dead-letter them only once UNKNOWN_SCHEMA_WAIT has
// passed for an id that stays unknown.
func TestIntegrationSinkWaitsForUnknownSchemaID(t *testing.T) {
	srv := chtest.Start(t)
	schema, err := schemas.Avro.ReadFile("avro/referral_event.avsc")
	if err != nil {
		t.Fatal(err)
	}
	var known atomic.Bool
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if !known.Load() {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"error_code": 40403, "message": "Schema 7 not found"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"schema": string(schema)})
	}))
	t.Cleanup(registry.Close)

	tests := []struct {
		name     string
		wait     string
		becomes  bool // the registry learns the id after a few retries
		wantRows string
		wantDead float64
	}{
		{name: "id learnt while waiting", wait: "1m", becomes: true, wantRows: `table="events"`},
		{name: "id never learnt", wait: "2s", wantRows: `table="dead_letters"`, wantDead: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			known.Store(false)
			db := srv.NewDatabase(t)
			brokers := kafkatest.Brokers(t)
			evs := testEvents("u", 20)
			recs := eventRecords(t, evs)
			for _, r := range recs {
				r.Value = append(binary.BigEndian.AppendUint32([]byte{0}, 7), r.Value[10:]...)
			}
			produce(t, brokers, recs)
			env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
			env["FLUSH_INTERVAL"], env["SCHEMA_REGISTRY_URL"], env["UNKNOWN_SCHEMA_WAIT"] = "100ms", registry.URL, tt.wait
			s := startSink(t, env)
			waitFor(t, 60*time.Second, "retries while the id is unknown", func() bool {
				m, _ := testenv.TryScrape(s.url)
				return testenv.Metric(m, "reftrail_sink_insert_retries_total") >= 2
			})
			if tt.becomes {
				if got := testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_dead_letters_total"); got != 0 {
					t.Fatalf("dead letters while waiting for the id = %v, want 0", got)
				}
				known.Store(true)
			}
			waitFor(t, 30*time.Second, "every record written", func() bool {
				return testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_rows_written_total", tt.wantRows) == float64(len(evs))
			})
			if got := testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_dead_letters_total"); got != tt.wantDead {
				t.Errorf("dead letters = %v, want %v", got, tt.wantDead)
			}
		})
	}
}
