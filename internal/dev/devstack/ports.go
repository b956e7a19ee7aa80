package main

import (
	"fmt"
	"net"
	"strconv"
)

// listen is an address a part of the stack will listen on and the setting
// that moves it: a devstack flag (a port, or an address for the services'
// flags) or INGEST_ADDR.
type listen struct {
	addr, what, setting string
}

// checkPorts fails with the setting to change when an address is taken, or
// given twice. Each part would report a taken port only in its own log, if at
// all.
func checkPorts(listens []listen) error {
	seen := map[string]listen{}
	for _, l := range listens {
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			return fmt.Errorf("%s's address %q (%s): %w", l.what, l.addr, l.setting, err)
		}
		if other, ok := seen[port]; ok {
			return fmt.Errorf("%s and %s both want port %s: change %s or %s", other.what, l.what, port, other.setting, l.setting)
		}
		seen[port] = l
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("port %s for %s is in use (`ss -ltnp 'sport = :%s'` shows by what): pick another with %s, e.g. %s%s",
				port, l.what, port, l.setting, example(l.setting, host, port), alternative(l))
		}
		ln.Close()
	}
	return nil
}

// example is a command that moves a part to port+10000 (or port-10000).
func example(setting, host, port string) string {
	p, _ := strconv.Atoi(port)
	if p += 10000; p > 65535 {
		p -= 20000
	}
	if host == "" {
		host = "127.0.0.1"
	}
	value := net.JoinHostPort(host, strconv.Itoa(p))
	switch setting {
	case "INGEST_ADDR":
		return "INGEST_ADDR=" + value + " make run"
	case "-kafka-port", "-clickhouse-port", "-clickhouse-http-port":
		value = strconv.Itoa(p)
	}
	return "make run DEVSTACK_FLAGS='" + setting + " " + value + "'"
}

// alternative offers a server already on a Kafka or ClickHouse port to the
// stack instead.
func alternative(l listen) string {
	switch l.setting {
	case "-clickhouse-port":
		return "; or, if a ClickHouse server of yours listens there, use it with CLICKHOUSE_ADDR=" + dialAddr(l.addr)
	case "-kafka-port":
		return "; or, if a Kafka of yours listens there, use it with KAFKA_BROKERS=" + dialAddr(l.addr)
	}
	return ""
}
