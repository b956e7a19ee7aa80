package chstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/event"
)

// eventColumns are the columns InsertEvents writes, in the order of its
// appends. event_time and received_time are left to their DEFAULT expressions,
// computed from the *_ms columns, so they cannot disagree.
var eventColumns = []string{
	"event_id", "platform", "kind", "account_id", "participant_id",
	"event_time_ms", "received_time_ms", "thread",
	"referral_ref", "referral_source", "referral_type", "referral_ad_id", "referral_referer_uri",
	"ads_context_ad_title", "ads_context_photo_url", "ads_context_video_url",
	"ads_context_post_id", "ads_context_product_id", "ads_context_flow_id",
	"message_id", "postback_title", "postback_payload",
	"optin_type", "optin_topic", "optin_frequency", "optin_status", "optin_title",
	"raw_partition", "raw_offset", "inserted_at",
}

// InsertEvents writes evs as one INSERT (one PrepareBatch, sent once), with
// inserted_at set to insertedAt (second precision). An empty evs writes nothing.
//
// Repeating an insert is harmless: events deduplicate on event_id (see the
// events migration), so the sink may retry a failed batch or re-insert after a
// rebalance. The rows are appended column by column, which avoids the per-value
// type switches of a row-wise batch.Append; with client and server on one small
// host the server's work dominates, and BenchmarkInsertEvents measures both. On
// error some, none or all rows may have been written; retry the whole batch.
func (s *Store) InsertEvents(ctx context.Context, evs []event.Event, insertedAt time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	var (
		ids, platforms, kinds, accounts, participants, threads = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		eventTimes, receivedTimes, offsets                     = make([]int64, n), make([]int64, n), make([]int64, n)
		partitions                                             = make([]int32, n)
		inserted                                               = make([]time.Time, n)
		// nullable holds the Nullable(String) columns from referral_ref to
		// optin_title, in eventColumns order.
		nullable [19][]*string
	)
	for i := range nullable {
		nullable[i] = make([]*string, n)
	}
	at := insertedAt.UTC()
	for i := range evs {
		e := &evs[i]
		ids[i], platforms[i], kinds[i] = e.EventID, string(e.Platform), string(e.Kind)
		accounts[i], participants[i], threads[i] = e.AccountID, e.ParticipantID, string(e.Thread)
		eventTimes[i], receivedTimes[i] = e.EventTime, e.ReceivedTime
		partitions[i], offsets[i], inserted[i] = e.RawPartition, e.RawOffset, at
		if r := e.Referral; r != nil {
			nullable[0][i], nullable[1][i], nullable[2][i] = &r.Ref, &r.Source, &r.Type
			nullable[3][i], nullable[4][i] = r.AdID, r.RefererURI
			if c := r.AdsContext; c != nil {
				nullable[5][i], nullable[6][i], nullable[7][i] = c.AdTitle, c.PhotoURL, c.VideoURL
				nullable[8][i], nullable[9][i], nullable[10][i] = c.PostID, c.ProductID, c.FlowID
			}
		}
		nullable[11][i], nullable[12][i], nullable[13][i] = e.MessageID, e.PostbackTitle, e.PostbackPayload
		if o := e.Optin; o != nil {
			nullable[14][i], nullable[15][i], nullable[16][i], nullable[17][i] = &o.Type, o.Topic, o.Frequency, o.Status
			nullable[18][i] = o.Title
		}
	}
	columns := []any{ids, platforms, kinds, accounts, participants, eventTimes, receivedTimes, threads}
	for _, c := range nullable {
		columns = append(columns, c)
	}
	columns = append(columns, partitions, offsets, inserted)
	if err := s.insertColumns(ctx, "events", eventColumns, columns); err != nil {
		return fmt.Errorf("inserting %d events: %w", n, err)
	}
	return nil
}

// DeadLetter is a raw record that could not be turned into events: a row of
// dead_letters. Its identity is the raw record's coordinates.
type DeadLetter struct {
	RawTopic     string
	RawPartition int32
	RawOffset    int64
	// Reason is short and stable (invalid_json, not_meta_envelope, ...), Stage
	// names the service that gave up, Detail is free text.
	Reason, Stage, Detail string
	Payload               []byte
	Headers               []Header
	// ReceivedTime is when ingest accepted the POST, Unix ms.
	ReceivedTime int64
}

// Header is one Kafka record header, kept in order.
type Header struct {
	Key   string
	Value []byte
}

var deadLetterColumns = []string{
	"raw_topic", "raw_partition", "raw_offset", "reason", "stage", "detail",
	"payload", "header_keys", "header_values", "received_time_ms", "inserted_at",
}

// InsertDeadLetters writes dls as one INSERT, with inserted_at set to
// insertedAt. Like InsertEvents, it is safe to repeat: dead letters deduplicate
// on (raw_topic, raw_partition, raw_offset).
func (s *Store) InsertDeadLetters(ctx context.Context, dls []DeadLetter, insertedAt time.Time) error {
	if len(dls) == 0 {
		return nil
	}
	n := len(dls)
	var (
		topics, reasons, stages, details = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		payloads                         = make([][]byte, n)
		keys, values                     = make([][]string, n), make([][]string, n)
		partitions                       = make([]int32, n)
		offsets, received                = make([]int64, n), make([]int64, n)
		inserted                         = make([]time.Time, n)
	)
	at := insertedAt.UTC()
	for i, d := range dls {
		topics[i], partitions[i], offsets[i] = d.RawTopic, d.RawPartition, d.RawOffset
		reasons[i], stages[i], details[i], payloads[i] = d.Reason, d.Stage, d.Detail, d.Payload
		keys[i], values[i] = make([]string, len(d.Headers)), make([]string, len(d.Headers))
		for j, h := range d.Headers {
			keys[i][j], values[i][j] = h.Key, string(h.Value)
		}
		received[i], inserted[i] = d.ReceivedTime, at
	}
	columns := []any{topics, partitions, offsets, reasons, stages, details, payloads, keys, values, received, inserted}
	if err := s.insertColumns(ctx, "dead_letters", deadLetterColumns, columns); err != nil {
		return fmt.Errorf("inserting %d dead letters: %w", n, err)
	}
	return nil
}

// insertColumns sends one INSERT INTO table (names) whose column i holds the
// slice values[i]. The batch is never reused: a failed batch is closed, and a
// retry prepares a new one.
func (s *Store) insertColumns(ctx context.Context, table string, names []string, values []any) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.database+"."+table+" ("+strings.Join(names, ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing batch: %w", err)
	}
	defer batch.Close()
	for i, v := range values {
		if err := batch.Column(i).Append(v); err != nil {
			return fmt.Errorf("appending column %s: %w", names[i], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending batch: %w", err)
	}
	return nil
}
