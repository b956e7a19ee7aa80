package kafka

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record headers reftrail writes, a contract between its services and with
// whoever reads the topics (docs/ARCHITECTURE.md, "Record headers").
const (
	// Raw records (ingest): when ingest accepted the POST (Unix ms,
	// decimal), its request id, and the POST's content type and signature as
	// received.
	HeaderReceivedAt  = "reftrail-received-at"
	HeaderRequestID   = "reftrail-request-id"
	HeaderContentType = "content-type"
	HeaderSignature   = "x-hub-signature-256"
	// HeaderSpooledAt is added to a raw record that waited in ingest's spool
	// through a Kafka outage: when it was spooled (Unix ms, decimal).
	HeaderSpooledAt = "reftrail-spooled-at"

	// Dead letters (enrich) add to the raw record's headers why and where
	// it was given up on, and the raw record's position.
	HeaderDLQReason    = "reftrail-dlq-reason"
	HeaderDLQDetail    = "reftrail-dlq-detail"
	HeaderDLQStage     = "reftrail-dlq-stage"
	HeaderRawPartition = "reftrail-raw-partition"
	HeaderRawOffset    = "reftrail-raw-offset"

	// Deliveries notify keeps for a later attempt (its retry topics) or has
	// given up on (reftrail.notify.dlq, which adds the three DLQ headers
	// above, stage "notify"): the webhook-id, the endpoint (a hash of its
	// URL, never the URL), the attempts made, when the first was made, when
	// the next is due and the event's time (Unix ms), and the last attempt's
	// HTTP status (0 for none) and reason (http_503, timeout, ...).
	HeaderWebhookID        = "webhook-id"
	HeaderNotifyEndpoint   = "reftrail-notify-endpoint"
	HeaderNotifyTries      = "reftrail-notify-tries"
	HeaderNotifyFirst      = "reftrail-notify-first"
	HeaderNotifyDue        = "reftrail-notify-due"
	HeaderNotifyEventTime  = "reftrail-notify-event-time"
	HeaderNotifyLastStatus = "reftrail-notify-last-status"
	HeaderNotifyLastReason = "reftrail-notify-last-reason"

	// HeaderReplayedAt marks a raw record that reftrailctl replay dlq sent
	// back from the DLQ (Unix ms, decimal). enrich marks the stage of such a
	// record's dead letter, and replay dlq never sends it back again, so a
	// payload that still fails reaches the DLQ once more, not in a loop.
	HeaderReplayedAt = "reftrail-replayed-at"
	// HeaderReplayedFrom names the raw record ("partition/offset" in the raw
	// topic, from the dead letter's lineage) a replayed record was first
	// made of; it follows the record into a new dead letter, so replay dlq
	// knows that raw record's dead letters were replayed and failed again.
	HeaderReplayedFrom = "reftrail-replayed-from"
)

// ReceivedAt returns when ingest accepted the POST behind a record, from its
// reftrail-received-at header (Unix ms), and false when the header is missing
// or not a positive number (a raw record written by something else).
func ReceivedAt(headers []kgo.RecordHeader) (int64, bool) {
	for _, h := range headers {
		if h.Key == HeaderReceivedAt {
			ms, err := strconv.ParseInt(string(h.Value), 10, 64)
			return ms, err == nil && ms > 0
		}
	}
	return 0, false
}

// Replayed reports whether headers carry HeaderReplayedAt.
func Replayed(headers []kgo.RecordHeader) bool {
	for _, h := range headers {
		if h.Key == HeaderReplayedAt {
			return true
		}
	}
	return false
}
