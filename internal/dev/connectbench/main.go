// Command connectbench serves webhooks as Redpanda Connect would be set up
// to (an http_server input answering each POST once its output has the body
// acknowledged by Kafka), on Redpanda Connect's own engine, Benthos (MIT).
// Redpanda Connect itself cannot be installed here, and its module's licence
// keeps it out of this repository; ingest's benchmark loads this instead as
// the generic connector to beat.
//
// Redpanda Connect's Kafka outputs are not part of Benthos, so the output is
// ours: each batch is produced with franz-go (its defaults but no linger, as
// the benchmark's minimal handler) and acknowledged once Kafka has all of it.
// -max-in-flight defaults to kafka_franz's default, 10; the benchmark also
// runs it at 64, its load's concurrency, so that the engine is not held back
// by it.
//
// It is a module of its own so that Benthos's dependencies stay out of
// reftrail's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4195", "address the http_server input listens on; it serves POST /webhook")
	brokers := flag.String("brokers", "", "Kafka brokers, comma-separated")
	topic := flag.String("topic", "", "topic the bodies are produced to")
	maxInFlight := flag.Int("max-in-flight", 10, "batches the output writes at once (kafka_franz's max_in_flight)")
	flag.Parse()
	if *brokers == "" || *topic == "" || *maxInFlight < 1 {
		fmt.Fprintln(os.Stderr, "connectbench: -brokers and -topic are required, -max-in-flight at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, strings.Split(*brokers, ","), *topic, *maxInFlight); err != nil {
		fmt.Fprintln(os.Stderr, "connectbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, brokers []string, topic string, maxInFlight int) error {
	env := service.NewEnvironment()
	spec := service.NewConfigSpec().
		Field(service.NewStringListField("seed_brokers")).
		Field(service.NewStringField("topic")).
		Field(service.NewOutputMaxInFlightField())
	err := env.RegisterBatchOutput("kafka_acked", spec,
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			seeds, err := conf.FieldStringList("seed_brokers")
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			produceTo, err := conf.FieldString("topic")
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			inFlight, err := conf.FieldMaxInFlight()
			return &kafkaOutput{brokers: seeds, topic: produceTo}, service.BatchPolicy{}, inFlight, err
		})
	if err != nil {
		return err
	}
	builder := env.NewStreamBuilder()
	if err := builder.SetYAML(fmt.Sprintf(`
input:
  http_server:
    address: %q
    path: /webhook
    allowed_verbs: [POST]
output:
  kafka_acked:
    seed_brokers: [%s]
    topic: %q
    max_in_flight: %d
logger:
  level: ERROR
`, addr, strings.Join(brokers, ", "), topic, maxInFlight)); err != nil {
		return err
	}
	stream, err := builder.Build()
	if err != nil {
		return err
	}
	return stream.Run(ctx)
}

// kafkaOutput produces each batch and acknowledges it once Kafka has every
// record.
type kafkaOutput struct {
	brokers []string
	topic   string
	client  *kgo.Client
}

func (o *kafkaOutput) Connect(context.Context) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(o.brokers...), kgo.DefaultProduceTopic(o.topic), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	o.client = client
	return nil
}

func (o *kafkaOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	records := make([]*kgo.Record, len(batch))
	for i, msg := range batch {
		value, err := msg.AsBytes()
		if err != nil {
			return err
		}
		records[i] = &kgo.Record{Value: value}
	}
	return o.client.ProduceSync(ctx, records...).FirstErr()
}

func (o *kafkaOutput) Close(context.Context) error {
	if o.client != nil {
		o.client.Close()
	}
	return nil
}
