// Package kafkatest gives tests a Kafka cluster: the one in KAFKA_BROKERS when
// set, else franz-go's kfake, a real Kafka protocol server running in process
// on loopback sockets.
package kafkatest

import (
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Brokers returns seed brokers for a test: KAFKA_BROKERS when set, else those of
// a new in-process kfake cluster closed when the test ends. Tests on a shared
// external cluster should use unique topic names.
func Brokers(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		return strings.Split(env, ",")
	}
	return NewFake(t, opts...).ListenAddrs()
}

// NewFake starts an in-process kfake cluster on loopback, closed when the test
// ends. Tests that inject faults or stop the cluster need it rather than Brokers.
func NewFake(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("starting kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
