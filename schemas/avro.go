package schemas

import "embed"

// Avro holds the Avro schemas, read with paths relative to this directory:
//
//   - avro/referral_event.avsc: reftrail.ReferralEvent, the value of
//     EVENTS_TOPIC, the schema every producer writes with.
//   - avro/history/referral_event.v<N>.avsc: each released version, frozen
//     (never edited). Consumers still read data written with each of them,
//     and subscribers still read with them, so a test in package event checks
//     that the current schema and each version read each other's data (FULL
//     compatibility: add fields only with defaults).
//
// Parse them once at start-up (package event does) and fail fast.
//
//go:embed avro/*.avsc avro/history/*.avsc
var Avro embed.FS
