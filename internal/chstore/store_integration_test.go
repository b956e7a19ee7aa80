package chstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/event"
)

// env is a migrated database of its own for one test.
type env struct {
	store *chstore.Store
	cfg   chstore.Config // the store's
	conn  driver.Conn    // default database: the test's
	db    string
}

func newEnv(t *testing.T) env {
	t.Helper()
	srv := chtest.Start(t)
	store, db := srv.NewStore(t)
	cfg := chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password}
	return env{store: store, cfg: cfg, conn: srv.Conn(t, db), db: db}
}

func ptr(s string) *string { return &s }

func TestIntegrationInsertEventsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	insertedAt := time.Date(2024, 3, 10, 12, 0, 7, 0, time.UTC)

	tests := []struct {
		name string
		ev   event.Event
	}{
		{
			name: "every field set",
			ev: event.Event{
				EventID: "full", Platform: event.Messenger, Kind: event.KindMessage,
				AccountID: "page-1", ParticipantID: "psid-1",
				EventTime: 1710072000123, ReceivedTime: 1710072001999, Thread: event.ThreadNew,
				Referral: &event.Referral{
					Ref: "spring's \\ sale", Source: "ADS", Type: "OPEN_THREAD",
					AdID: ptr("ad-1"), RefererURI: ptr("https://example.com/?a=1&b='2'"),
					AdsContext: &event.AdsContext{
						AdTitle: ptr("Title"), PhotoURL: ptr("https://p"), VideoURL: ptr("https://v"),
						PostID: ptr("post"), ProductID: ptr("prod"), FlowID: ptr("flow"),
					},
				},
				MessageID: ptr("m.full"), PostbackTitle: ptr("Get Started"), PostbackPayload: ptr(""),
				Optin:        &event.Optin{Type: "notification_messages", Topic: ptr("deals"), Frequency: ptr("DAILY"), Status: ptr("RESUME"), Title: ptr("Weekly deals?")},
				RawPartition: 7, RawOffset: 1 << 40,
			},
		},
		{
			name: "nothing optional",
			ev: event.Event{
				EventID: "bare", Platform: event.Instagram, Kind: event.KindEcho,
				AccountID: "ig-1", ParticipantID: "igsid-1",
				EventTime: 1710072000000, ReceivedTime: 1710072000000, Thread: event.ThreadUnknown,
			},
		},
		{
			name: "referral with empty ref and no ads context",
			ev: event.Event{
				EventID: "empty-ref", Platform: event.Instagram, Kind: event.KindReferral,
				AccountID: "ig-1", ParticipantID: "igsid-2",
				EventTime: 1710072000000, ReceivedTime: 1710072000500, Thread: event.ThreadExisting,
				Referral: &event.Referral{Source: "SHORTLINK"},
			},
		},
		{
			name: "opt-in without optional fields",
			ev: event.Event{
				EventID: "optin", Platform: event.Messenger, Kind: event.KindOptin,
				AccountID: "page-1", ParticipantID: "psid-2",
				EventTime: 1710072000000, ReceivedTime: 1710072000000, Thread: event.ThreadUnknown,
				Optin: &event.Optin{Type: "one_time_notif_req"},
			},
		},
	}
	var evs []event.Event
	for _, tt := range tests {
		evs = append(evs, tt.ev)
	}
	if err := e.store.InsertEvents(ctx, evs, insertedAt); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	if err := e.store.InsertEvents(ctx, nil, insertedAt); err != nil {
		t.Fatalf("InsertEvents(nil): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, times := readEvent(t, e.conn, tt.ev.EventID)
			if diff := cmp.Diff(tt.ev, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			wantTimes := [3]time.Time{
				time.UnixMilli(tt.ev.EventTime).Truncate(time.Second).UTC(),
				time.UnixMilli(tt.ev.ReceivedTime).Truncate(time.Second).UTC(),
				insertedAt,
			}
			if times != wantTimes {
				t.Errorf("event_time, received_time, inserted_at = %v, want %v", times, wantTimes)
			}
		})
	}
}

// readEvent reads the event eventID back from the events table, rebuilding the
// event.Event from its columns, and its DateTime columns (event_time,
// received_time, inserted_at).
func readEvent(t *testing.T, conn driver.Conn, eventID string) (event.Event, [3]time.Time) {
	t.Helper()
	var (
		ev                                         event.Event
		platform, kind, thread                     string
		ref, source, typ, adID, refererURI         *string
		adTitle, photo, video, post, product, flow *string
		optinType, topic, frequency, status, title *string
		times                                      [3]time.Time
	)
	err := conn.QueryRow(context.Background(), `SELECT event_id, platform, kind, account_id, participant_id,
		event_time_ms, received_time_ms, thread, referral_ref, referral_source, referral_type,
		referral_ad_id, referral_referer_uri, ads_context_ad_title, ads_context_photo_url,
		ads_context_video_url, ads_context_post_id, ads_context_product_id, ads_context_flow_id,
		message_id, postback_title, postback_payload, optin_type, optin_topic, optin_frequency,
		optin_status, optin_title, raw_partition, raw_offset, event_time, received_time, inserted_at
		FROM events WHERE event_id = '`+eventID+`'`).Scan(
		&ev.EventID, &platform, &kind, &ev.AccountID, &ev.ParticipantID,
		&ev.EventTime, &ev.ReceivedTime, &thread, &ref, &source, &typ,
		&adID, &refererURI, &adTitle, &photo,
		&video, &post, &product, &flow,
		&ev.MessageID, &ev.PostbackTitle, &ev.PostbackPayload, &optinType, &topic, &frequency,
		&status, &title, &ev.RawPartition, &ev.RawOffset, &times[0], &times[1], &times[2])
	if err != nil {
		t.Fatalf("reading event %s: %v", eventID, err)
	}
	ev.Platform, ev.Kind, ev.Thread = event.Platform(platform), event.Kind(kind), event.Thread(thread)
	if ref != nil {
		ev.Referral = &event.Referral{Ref: *ref, Source: *source, Type: *typ, AdID: adID, RefererURI: refererURI}
		if adTitle != nil || photo != nil || video != nil || post != nil || product != nil || flow != nil {
			ev.Referral.AdsContext = &event.AdsContext{AdTitle: adTitle, PhotoURL: photo, VideoURL: video, PostID: post, ProductID: product, FlowID: flow}
		}
	}
	if optinType != nil {
		ev.Optin = &event.Optin{Type: *optinType, Topic: topic, Frequency: frequency, Status: status, Title: title}
	}
	for i := range times {
		times[i] = times[i].UTC()
	}
	return ev, times
}

func TestIntegrationInsertDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	insertedAt := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	dls := []chstore.DeadLetter{
		{
			RawTopic: "meta.webhooks.raw", RawPartition: 2, RawOffset: 41,
			Reason: "invalid_json", Stage: "enrich", Detail: "unexpected end of JSON input",
			Payload: []byte("{\"object\":\x00\xff"),
			Headers: []chstore.Header{
				{Key: "reftrail-received-at", Value: []byte("1710072000123")},
				{Key: "content-type", Value: []byte("application/json")},
				{Key: "empty", Value: nil},
			},
			ReceivedTime: 1710072000123,
		},
		{
			RawTopic: "meta.webhooks.raw", RawPartition: 0, RawOffset: 7,
			Reason: "missing_sender", Stage: "enrich", Payload: []byte("{}"), ReceivedTime: 1710072005000,
		},
	}
	// Twice: a DLQ record consumed again must not add a row.
	for range 2 {
		if err := e.store.InsertDeadLetters(ctx, dls, insertedAt); err != nil {
			t.Fatalf("InsertDeadLetters: %v", err)
		}
	}
	rows, err := e.conn.Query(ctx, `SELECT raw_topic, raw_partition, raw_offset, reason, stage, detail,
		payload, header_keys, header_values, received_time_ms, received_time, inserted_at
		FROM dead_letters FINAL ORDER BY raw_topic, raw_partition, raw_offset`)
	if err != nil {
		t.Fatalf("reading dead_letters: %v", err)
	}
	defer rows.Close()
	type row struct {
		dl                     chstore.DeadLetter
		receivedAt, insertedAt time.Time
	}
	var got []row
	for rows.Next() {
		var (
			r            row
			payload      string
			keys, values []string
		)
		if err := rows.Scan(&r.dl.RawTopic, &r.dl.RawPartition, &r.dl.RawOffset, &r.dl.Reason, &r.dl.Stage, &r.dl.Detail,
			&payload, &keys, &values, &r.dl.ReceivedTime, &r.receivedAt, &r.insertedAt); err != nil {
			t.Fatalf("reading dead_letters: %v", err)
		}
		r.dl.Payload = []byte(payload)
		for i := range keys {
			r.dl.Headers = append(r.dl.Headers, chstore.Header{Key: keys[i], Value: []byte(values[i])})
		}
		r.receivedAt, r.insertedAt = r.receivedAt.UTC(), r.insertedAt.UTC()
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading dead_letters: %v", err)
	}
	want := []row{
		{dl: dls[1], receivedAt: time.Unix(1710072005, 0).UTC(), insertedAt: insertedAt},
		{dl: dls[0], receivedAt: time.Unix(1710072000, 0).UTC(), insertedAt: insertedAt},
	}
	// An empty header value reads back as an empty, not a nil, slice.
	want[1].dl.Headers[2].Value = []byte{}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("dead_letters (-want +got):\n%s", diff)
	}
}

// queryRows runs query and returns its rows with every integer as int64, every
// time in UTC and nullable strings as *string, so that wants stay short.
func queryRows(t *testing.T, conn driver.Conn, query string) [][]any {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("running query: %v", err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var got [][]any
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scanning: %v", err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = normalize(reflect.ValueOf(d).Elem().Interface())
		}
		got = append(got, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading rows: %v", err)
	}
	return got
}

func normalize(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC()
	case **string:
		return *v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	}
	return v
}

// bind loads query name and binds params, failing t on error.
func bind(t *testing.T, name string, params map[string]any) string {
	t.Helper()
	q, err := chstore.Query(name)
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	q, err = chstore.BindQuery(q, params)
	if err != nil {
		t.Fatalf("BindQuery(%s): %v", name, err)
	}
	return q
}
