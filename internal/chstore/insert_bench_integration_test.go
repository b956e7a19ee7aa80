package chstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/event"
)

// benchEvents returns n events shaped like production: a third carry a
// referral, messages carry a mid.
func benchEvents(n int) []event.Event {
	evs := make([]event.Event, n)
	base := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range evs {
		e := event.Event{
			EventID: fmt.Sprintf("m.%016x", i), Platform: event.Instagram, Kind: event.KindMessage,
			AccountID: "17841400000000000", ParticipantID: fmt.Sprintf("%d", 6000000000000000+i%5000),
			EventTime: base + int64(i), ReceivedTime: base + int64(i) + 250, Thread: event.ThreadUnknown,
			RawPartition: int32(i % 12), RawOffset: int64(i),
		}
		e.MessageID = &e.EventID
		if i%3 == 0 {
			e.Kind, e.Thread, e.MessageID = event.KindReferral, event.ThreadExisting, nil
			e.Referral = &event.Referral{Ref: fmt.Sprintf("campaign-%d", i%20), Source: "SHORTLINK", Type: "OPEN_THREAD"}
		}
		evs[i] = e
	}
	return evs
}

// BenchmarkInsertEvents measures InsertEvents (column by column) against the
// same insert appended row by row, in batches of the sink's default size.
func BenchmarkInsertEvents(b *testing.B) {
	srv := chtest.Start(b)
	db := srv.NewDatabase(b)
	ctx := context.Background()
	const batchRows = 10000
	evs := benchEvents(batchRows)
	at := time.Now()

	for _, compressed := range []bool{true, false} {
		store, err := chstore.Open(ctx, chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password, Compress: compressed})
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		b.Cleanup(func() { store.Close() })
		if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
			b.Fatalf("Migrate: %v", err)
		}
		b.Run(fmt.Sprintf("columns/lz4=%v", compressed), func(b *testing.B) {
			for b.Loop() {
				if err := store.InsertEvents(ctx, evs, at); err != nil {
					b.Fatalf("InsertEvents: %v", err)
				}
			}
			b.ReportMetric(float64(b.N*batchRows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
	b.Run("rows/lz4=false", func(b *testing.B) {
		conn := srv.Conn(b, db)
		for b.Loop() {
			if err := insertRows(ctx, conn, evs, at); err != nil {
				b.Fatalf("insertRows: %v", err)
			}
		}
		b.ReportMetric(float64(b.N*batchRows)/b.Elapsed().Seconds(), "rows/s")
	})
}

// insertRows is InsertEvents done with one batch.Append per row, for comparison.
func insertRows(ctx context.Context, conn driver.Conn, evs []event.Event, at time.Time) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO events ("+strings.Join([]string{
		"event_id", "platform", "kind", "account_id", "participant_id", "event_time_ms", "received_time_ms", "thread",
		"referral_ref", "referral_source", "referral_type", "referral_ad_id", "referral_referer_uri",
		"ads_context_ad_title", "ads_context_photo_url", "ads_context_video_url",
		"ads_context_post_id", "ads_context_product_id", "ads_context_flow_id",
		"message_id", "postback_title", "postback_payload",
		"optin_type", "optin_topic", "optin_frequency", "optin_status",
		"raw_partition", "raw_offset", "inserted_at",
	}, ", ")+")")
	if err != nil {
		return err
	}
	defer batch.Close()
	for _, e := range evs {
		var ref, source, typ, adID, referer *string
		var ads event.AdsContext
		if r := e.Referral; r != nil {
			ref, source, typ, adID, referer = &r.Ref, &r.Source, &r.Type, r.AdID, r.RefererURI
			if r.AdsContext != nil {
				ads = *r.AdsContext
			}
		}
		var optin event.Optin
		var optinType *string
		if e.Optin != nil {
			optin, optinType = *e.Optin, &e.Optin.Type
		}
		if err := batch.Append(e.EventID, string(e.Platform), string(e.Kind), e.AccountID, e.ParticipantID,
			e.EventTime, e.ReceivedTime, string(e.Thread), ref, source, typ, adID, referer,
			ads.AdTitle, ads.PhotoURL, ads.VideoURL, ads.PostID, ads.ProductID, ads.FlowID,
			e.MessageID, e.PostbackTitle, e.PostbackPayload, optinType, optin.Topic, optin.Frequency, optin.Status,
			e.RawPartition, e.RawOffset, at); err != nil {
			return err
		}
	}
	return batch.Send()
}
