package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestCheckPorts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer l.Close()
	taken := l.Addr().String()
	takenPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listening: %v", err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	// stack is devstack's listens with the one named by setting on addr.
	stack := func(setting, addr string) []listen {
		all := []listen{
			{free(), "the embedded Kafka", "-kafka-port"},
			{free(), "ClickHouse", "-clickhouse-port"},
			{free(), "ClickHouse's HTTP interface", "-clickhouse-http-port"},
			{free(), "ingest", "INGEST_ADDR"},
			{free(), "ingest's /metrics and /readyz", "-ingest-metrics-addr"},
			{free(), "enrich", "-enrich-addr"},
			{free(), "sink", "-sink-addr"},
			{free(), "the console", "-console-addr"},
			{free(), "the console's /metrics and /readyz", "-console-metrics-addr"},
		}
		for i := range all {
			if all[i].setting == setting {
				all[i].addr = addr
			}
		}
		return all
	}
	busy := "port " + takenPort + " for "
	tests := []struct {
		name    string
		listens []listen
		want    []string
	}{
		{name: "all free", listens: stack("", "")},
		{name: "Kafka", listens: stack("-kafka-port", taken), want: []string{busy + "the embedded Kafka is in use", "pick another with -kafka-port, e.g. make run DEVSTACK_FLAGS='-kafka-port ", "KAFKA_BROKERS=" + taken}},
		{name: "ClickHouse native", listens: stack("-clickhouse-port", taken), want: []string{busy + "ClickHouse is in use", "pick another with -clickhouse-port, e.g. make run DEVSTACK_FLAGS='-clickhouse-port ", "CLICKHOUSE_ADDR=" + taken}},
		{name: "ClickHouse HTTP", listens: stack("-clickhouse-http-port", taken), want: []string{busy + "ClickHouse's HTTP interface is in use", "pick another with -clickhouse-http-port, e.g. make run DEVSTACK_FLAGS='-clickhouse-http-port "}},
		{name: "ingest", listens: stack("INGEST_ADDR", taken), want: []string{busy + "ingest is in use", "pick another with INGEST_ADDR, e.g. INGEST_ADDR=127.0.0.1:"}},
		{name: "ingest on every interface", listens: stack("INGEST_ADDR", ":"+takenPort), want: []string{busy + "ingest is in use", "pick another with INGEST_ADDR"}},
		{name: "ingest's metrics", listens: stack("-ingest-metrics-addr", taken), want: []string{busy + "ingest's /metrics and /readyz is in use", "pick another with -ingest-metrics-addr, e.g. make run DEVSTACK_FLAGS='-ingest-metrics-addr 127.0.0.1:"}},
		{name: "enrich", listens: stack("-enrich-addr", taken), want: []string{busy + "enrich is in use", "pick another with -enrich-addr, e.g. make run DEVSTACK_FLAGS='-enrich-addr 127.0.0.1:"}},
		{name: "sink", listens: stack("-sink-addr", taken), want: []string{busy + "sink is in use", "pick another with -sink-addr, e.g. make run DEVSTACK_FLAGS='-sink-addr 127.0.0.1:"}},
		{name: "console", listens: stack("-console-addr", taken), want: []string{busy + "the console is in use", "pick another with -console-addr, e.g. make run DEVSTACK_FLAGS='-console-addr 127.0.0.1:"}},
		{name: "the same port twice", listens: []listen{{"127.0.0.1:25001", "enrich", "-enrich-addr"}, {"127.0.0.1:25001", "sink", "-sink-addr"}}, want: []string{"enrich and sink both want port 25001: change -enrich-addr or -sink-addr"}},
		{name: "not an address", listens: []listen{{"8080", "ingest", "INGEST_ADDR"}}, want: []string{`ingest's address "8080" (INGEST_ADDR)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPorts(tt.listens)
			if len(tt.want) == 0 && err != nil {
				t.Errorf("checkPorts: %v, want nil", err)
			}
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("checkPorts error %v, want one containing %q", err, want)
				}
			}
		})
	}
}
