package eventcodec

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
)

// TestIntegrationKcat produces encoded events to an in-process Kafka (kfake)
// and reads them back with kcat (librdkafka), the tool subscribers use to look
// at a topic: keys and values must come back byte for byte.
func TestIntegrationKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Unavailable(t, "kcat not found (Debian: kcat): %v", err)
	}
	const topic = "reftrail.events.v1"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)

	c, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	want := make(map[string][][]byte) // key → values, in produce order
	var records []*kgo.Record
	for _, tc := range sampleEvents() {
		value, err := c.Append(nil, &tc.event)
		if err != nil {
			t.Fatalf("%s: Append: %v", tc.name, err)
		}
		key := tc.event.Key()
		want[key] = append(want[key], value)
		records = append(records, &kgo.Record{Topic: topic, Key: []byte(key), Value: value})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}

	// Lengths before the raw bytes keep the output binary safe.
	cmd := exec.CommandContext(ctx, kcat, "-b", cluster.ListenAddrs()[0], "-C", "-t", topic,
		"-o", "beginning", "-e", "-q", "-c", strconv.Itoa(len(records)), "-f", `%K %k%S %s\n`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.Bytes())
	}
	got, err := parseKcat(out)
	if err != nil {
		t.Fatalf("parsing kcat output: %v\n%q", err, out)
	}
	// Partitions interleave; order holds per key.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kcat read (-want +got):\n%s", diff)
	}

	dec, err := NewDecoder(nil)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	for key, values := range got {
		for _, v := range values {
			var e event.Event
			if err := dec.Decode(ctx, v, &e); err != nil {
				t.Errorf("decoding what kcat read for %s: %v", key, err)
			} else if e.Key() != key {
				t.Errorf("event read under key %s has Key() %s", key, e.Key())
			}
		}
	}
}

// parseKcat reads records printed with -f '%K %k%S %s\n': key length, space,
// key, value length, space, value, newline.
func parseKcat(out []byte) (map[string][][]byte, error) {
	r := bufio.NewReader(bytes.NewReader(out))
	got := make(map[string][][]byte)
	for {
		key, err := readSized(r)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading key: %w", err)
		}
		value, err := readSized(r)
		if err != nil {
			return nil, fmt.Errorf("reading value: %w", err)
		}
		if nl, err := r.ReadByte(); err != nil || nl != '\n' {
			return nil, fmt.Errorf("record of key %q not ended by a newline", key)
		}
		got[string(key)] = append(got[string(key)], value)
	}
}

func readSized(r *bufio.Reader) ([]byte, error) {
	n, err := r.ReadString(' ')
	if err == io.EOF && n != "" {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil || size < 0 {
		return nil, fmt.Errorf("invalid length %q", n)
	}
	b := make([]byte, size)
	_, err = io.ReadFull(r, b)
	return b, err
}
