package kafka

// Record headers reftrail writes, a contract between its services and with
// whoever reads the topics (DESIGN.md, "Record headers").
const (
	// Raw records (ingest): when ingest accepted the POST (Unix ms,
	// decimal), its request id, and the POST's content type and signature as
	// received.
	HeaderReceivedAt  = "reftrail-received-at"
	HeaderRequestID   = "reftrail-request-id"
	HeaderContentType = "content-type"
	HeaderSignature   = "x-hub-signature-256"

	// Dead letters (enrich) add to the raw record's headers why and where
	// it was given up on, and the raw record's position.
	HeaderDLQReason    = "reftrail-dlq-reason"
	HeaderDLQDetail    = "reftrail-dlq-detail"
	HeaderDLQStage     = "reftrail-dlq-stage"
	HeaderRawPartition = "reftrail-raw-partition"
	HeaderRawOffset    = "reftrail-raw-offset"
)
