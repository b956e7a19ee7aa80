package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/meta"
)

// TestIntegrationSubscriberExample runs the README's subscriber example, kcat
// (librdkafka) piped into examples/read_events.py (python3-avro), against
// enrich's output, as a subscriber outside Go would read the topic.
func TestIntegrationSubscriberExample(t *testing.T) {
	for _, tool := range []string{"kcat", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "%s not found (Debian: kcat, python3-avro): %v", tool, err)
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import avro.io").Run(); err != nil {
		testenv.Unavailable(t, "python3-avro not installed (Debian: python3-avro): %v", err)
	}
	brokers := kafkatest.Brokers(t)
	startEnrich(t, brokers, nil)
	raws := produceRaw(t, brokers, loadPayloads(t))
	var want []string
	for _, raw := range raws {
		if res, err := meta.Decode(raw.Value, meta.Source{}); err == nil {
			for _, e := range res.Events {
				want = append(want, e.EventID)
			}
		}
	}
	readCommitted(t, brokers, eventsTopic, len(want), 200*time.Millisecond)

	pipeline := "kcat -b " + brokers[0] + " -C -t " + eventsTopic + " -X isolation.level=read_committed -e -q -f '%R%s' |" +
		" /usr/bin/python3 ../examples/read_events.py ../schemas/avro/referral_event.avsc"
	cmd := exec.Command("bash", "-o", "pipefail", "-c", pipeline)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", pipeline, err, stderr.String())
	}
	var got []string
	lines := bufio.NewScanner(bytes.NewReader(out))
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var e struct {
			EventID string `json:"event_id"`
			Kind    string `json:"kind"`
		}
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil || e.EventID == "" || e.Kind == "" {
			t.Fatalf("example printed %q, want a JSON event (%v)", lines.Text(), err)
		}
		got = append(got, e.EventID)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event ids read by the example (-want +got):\n%s", diff)
	}
	if strings.TrimSpace(stderr.String()) != "" {
		t.Errorf("example wrote to stderr: %s", stderr.String())
	}
}
