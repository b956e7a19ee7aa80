package eventcodec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/schemas"
)

const testSubject = "reftrail.events.v1-value"

// typicalEvent is what enrich produces most: the first message of a thread
// opened from an ig.me link.
func typicalEvent() event.Event {
	return event.Event{
		EventID:       "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAxMjM0NTY3ODkw",
		Platform:      event.Instagram,
		Kind:          event.KindMessage,
		AccountID:     "17841400123456789",
		ParticipantID: "1234567890123456",
		EventTime:     1718000000123,
		ReceivedTime:  1718000000456,
		Thread:        event.ThreadNew,
		Referral: &event.Referral{
			Ref:    "spring_sale",
			Source: "SHORTLINK",
			Type:   "OPEN_THREAD",
		},
		MessageID:    new("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAxMjM0NTY3ODkw"),
		RawPartition: 3,
		RawOffset:    42,
	}
}

// sampleEvents covers every kind, every enum symbol, and each optional part
// both absent and present (including present but empty).
func sampleEvents() []struct {
	name  string
	event event.Event
} {
	return []struct {
		name  string
		event event.Event
	}{
		{name: "message from ig.me link", event: typicalEvent()},
		{
			name: "standalone referral from an ad",
			event: event.Event{
				EventID: "c4a1f0e2", Platform: event.Messenger, Kind: event.KindReferral,
				AccountID: "102030405060708", ParticipantID: "2468013579",
				EventTime: 1718000001000, ReceivedTime: 1718000001500, Thread: event.ThreadExisting,
				Referral: &event.Referral{
					Ref: "", Source: "ADS", Type: "OPEN_THREAD", AdID: new("23851234567890123"),
					AdsContext: &event.AdsContext{
						AdTitle: new("Spring sale — 20 % off ✨"), PhotoURL: new("https://scontent.example/p.jpg"),
						VideoURL: new("https://scontent.example/v.jpg"), PostID: new("102030405060708_99"),
						ProductID: new("55501"), FlowID: new("flow-1"),
					},
				},
				RawPartition: 0, RawOffset: 0,
			},
		},
		{
			name: "chat plugin referral with partial ads context",
			event: event.Event{
				EventID: "9f8e7d", Platform: event.Messenger, Kind: event.KindReferral,
				AccountID: "102030405060708", ParticipantID: "user_ref_abc",
				EventTime: 1718000002000, ReceivedTime: 1718000002001, Thread: event.ThreadExisting,
				Referral: &event.Referral{
					Ref: "from \"blog\"\n", Source: "CUSTOMER_CHAT_PLUGIN", Type: "OPEN_THREAD",
					RefererURI: new("https://shop.example/pricing?a=1&b=<2>"),
					AdsContext: &event.AdsContext{AdTitle: new("")},
				},
				RawPartition: 2147483647, RawOffset: 9223372036854775807,
			},
		},
		{
			name: "icebreaker postback",
			event: event.Event{
				EventID: "m_postback_1", Platform: event.Instagram, Kind: event.KindPostback,
				AccountID: "17841400123456789", ParticipantID: "1357924680",
				EventTime: 1718000003000, ReceivedTime: 1718000003100, Thread: event.ThreadNew,
				Referral:      &event.Referral{Ref: "qr_store_7", Source: "SHORTLINKS", Type: "OPEN_THREAD"},
				MessageID:     new("m_postback_1"),
				PostbackTitle: new("Where is my order?"), PostbackPayload: new(`{"q":"order"}`),
				RawPartition: 7, RawOffset: 123456789,
			},
		},
		{
			name: "recurring notification opt-in",
			event: event.Event{
				EventID: "optin-77", Platform: event.Messenger, Kind: event.KindOptin,
				AccountID: "102030405060708", ParticipantID: "2468013579",
				EventTime: 1718000004000, ReceivedTime: 1718000004000, Thread: event.ThreadUnknown,
				Optin:        &event.Optin{Type: "notification_messages", Topic: new("deals"), Frequency: new("WEEKLY"), Title: new("Weekly deals")},
				RawPartition: 1, RawOffset: 5,
			},
		},
		{
			name: "opt-in with type only",
			event: event.Event{
				EventID: "optin-78", Platform: event.Instagram, Kind: event.KindOptin,
				AccountID: "17841400123456789", ParticipantID: "1",
				EventTime: 1718000005000, ReceivedTime: 1718000005000, Thread: event.ThreadUnknown,
				Optin: &event.Optin{Type: "notification_messages", Status: new("STOP_NOTIFICATIONS")},
			},
		},
		{
			name: "echo without referral",
			event: event.Event{
				EventID: "m_echo_1", Platform: event.Instagram, Kind: event.KindEcho,
				AccountID: "17841400123456789", ParticipantID: "1234567890123456",
				EventTime: 1718000006000, ReceivedTime: 1718000006000, Thread: event.ThreadUnknown,
				MessageID: new("m_echo_1"), RawPartition: 3, RawOffset: 43,
			},
		},
		{
			name: "empty strings and zero times",
			event: event.Event{
				Platform: event.Messenger, Kind: event.KindMessage, Thread: event.ThreadUnknown,
				MessageID: new(""), PostbackTitle: new(""), PostbackPayload: new(""),
				RawPartition: -1, RawOffset: -1,
			},
		},
	}
}

// newTestRegistry starts an in-memory schema registry and returns a client
// for it.
func newTestRegistry(t *testing.T) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatalf("sr.NewClient: %v", err)
	}
	return reg, cl
}

func TestRoundTrip(t *testing.T) {
	reg, cl := newTestRegistry(t)
	soe, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	confluent, err := NewRegistryCodec(t.Context(), cl, testSubject)
	if err != nil {
		t.Fatalf("NewRegistryCodec: %v", err)
	}
	registered, ok := reg.GetSchema(testSubject, 1)
	if !ok {
		t.Fatalf("subject %q has no version 1 after NewRegistryCodec", testSubject)
	}
	if confluent.SchemaID() != registered.ID {
		t.Errorf("SchemaID() = %d, want the registry's %d", confluent.SchemaID(), registered.ID)
	}
	dec, err := NewDecoder(cl)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}

	framings := []struct {
		name   string
		codec  *Codec
		header []byte
	}{
		{
			name:   "single-object",
			codec:  soe,
			header: binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, wantFingerprint),
		},
		{
			name:   "confluent",
			codec:  confluent,
			header: binary.BigEndian.AppendUint32([]byte{0x00}, uint32(registered.ID)),
		},
	}
	for _, f := range framings {
		for _, tc := range sampleEvents() {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				b, err := f.codec.Append(nil, &tc.event)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if !bytes.HasPrefix(b, f.header) {
					t.Errorf("encoding starts % x, want header % x", b[:min(len(b), len(f.header))], f.header)
				}
				// A reused event.Event must come back with nothing of the last one.
				got := event.Event{Referral: &event.Referral{Ref: "stale"}, Optin: &event.Optin{Type: "stale"}, MessageID: new("stale")}
				if err := dec.Decode(t.Context(), b, &got); err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tc.event, got); diff != "" {
					t.Errorf("Decode(Append(event)) mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestAppendKeepsDst(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	e := typicalEvent()
	alone, err := c.Append(nil, &e)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	prefix := []byte("prefix")
	got, err := c.Append(prefix, &e)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if want := append([]byte("prefix"), alone...); !bytes.Equal(got, want) {
		t.Errorf("Append(prefix) = % x, want % x", got, want)
	}
}

func TestAppendErrors(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*event.Event)
	}{
		{name: "empty platform", mutate: func(e *event.Event) { e.Platform = "" }},
		{name: "unknown platform", mutate: func(e *event.Event) { e.Platform = "WHATSAPP" }},
		{name: "lower-case kind", mutate: func(e *event.Event) { e.Kind = "message" }},
		{name: "empty thread", mutate: func(e *event.Event) { e.Thread = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := typicalEvent()
			tc.mutate(&e)
			dst := []byte("kept")
			got, err := c.Append(dst, &e)
			if err == nil {
				t.Fatalf("Append = % x, want an error", got)
			}
			if string(got) != "kept" {
				t.Errorf("Append on error returned %q, want dst unchanged", got)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	reg, cl := newTestRegistry(t)
	soe, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	e := typicalEvent()
	good, err := soe.Append(nil, &e)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	otherFingerprint := append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, good[soeHeaderLen:]...)

	jsonID, _, err := reg.RegisterSchema("other-value", sr.Schema{Schema: `{"type":"object"}`, Type: sr.TypeJSON})
	if err != nil {
		t.Fatalf("registering a JSON schema: %v", err)
	}
	otherID, _, err := reg.RegisterSchema("other2-value", sr.Schema{Schema: `{"type":"record","name":"Other","fields":[{"name":"a","type":"long"}]}`})
	if err != nil {
		t.Fatalf("registering an unrelated Avro schema: %v", err)
	}
	confluent := func(id int, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), body...)
	}

	withRegistry, err := NewDecoder(cl)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	withoutRegistry, err := NewDecoder(nil)
	if err != nil {
		t.Fatalf("NewDecoder(nil): %v", err)
	}
	tests := []struct {
		name    string
		decoder *Decoder
		in      []byte
		want    error
	}{
		{name: "empty", decoder: withRegistry, in: nil, want: ErrMalformed},
		{name: "JSON", decoder: withRegistry, in: []byte(`{"event_id":"x"}`), want: ErrMalformed},
		{name: "lone 0xC3", decoder: withRegistry, in: []byte{0xC3}, want: ErrMalformed},
		{name: "single-object header cut", decoder: withRegistry, in: good[:6], want: ErrMalformed},
		{name: "single-object body cut", decoder: withRegistry, in: good[:len(good)-3], want: ErrMalformed},
		{name: "single-object trailing byte", decoder: withRegistry, in: append(bytes.Clone(good), 0), want: ErrMalformed},
		{name: "unknown fingerprint", decoder: withRegistry, in: otherFingerprint, want: ErrUnknownSchema},
		{name: "Confluent header cut", decoder: withRegistry, in: []byte{0, 0, 1}, want: ErrMalformed},
		{name: "Confluent id not in registry", decoder: withRegistry, in: confluent(999, good[soeHeaderLen:]), want: ErrUnknownSchema},
		{name: "Confluent id of a JSON schema", decoder: withRegistry, in: confluent(jsonID, good[soeHeaderLen:]), want: ErrUnknownSchema},
		{name: "Confluent id of an unrelated schema", decoder: withRegistry, in: confluent(otherID, good[soeHeaderLen:]), want: ErrUnknownSchema},
		{name: "Confluent without registry", decoder: withoutRegistry, in: confluent(1, good[soeHeaderLen:]), want: ErrUnknownSchema},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got event.Event
			err := tc.decoder.Decode(t.Context(), tc.in, &got)
			if !errors.Is(err, tc.want) {
				t.Errorf("Decode(% x) error = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

// TestDecodeRegistryUnreachable checks that a registry failure is not
// reported as bad data: the caller must retry, not dead-letter the record.
func TestDecodeRegistryUnreachable(t *testing.T) {
	reg, cl := newTestRegistry(t)
	dec, err := NewDecoder(cl)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	reg.Close()
	err = dec.Decode(t.Context(), []byte{0, 0, 0, 0, 1, 0}, new(event.Event))
	if err == nil || errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownSchema) {
		t.Errorf("Decode with the registry down: error = %v, want a transient error (neither ErrMalformed nor ErrUnknownSchema)", err)
	}
}

// eventV2 is event.Event written with a future schema version that has one more
// field, to check that Decode resolves a writer schema other than its own.
type eventV2 struct {
	event.Event
	Campaign string `avro:"campaign"`
}

func TestDecodeResolvesNewerWriter(t *testing.T) {
	reg, cl := newTestRegistry(t)
	text, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	v2 := withField(t, text, 3, map[string]any{"name": "campaign", "type": "string", "default": ""})
	id, _, err := reg.RegisterSchema(testSubject, sr.Schema{Schema: string(v2)})
	if err != nil {
		t.Fatalf("registering v2: %v", err)
	}
	writer, err := parseSchema(v2)
	if err != nil {
		t.Fatalf("parsing v2: %v", err)
	}
	want := typicalEvent()
	body, err := avro.Marshal(writer.avro, eventV2{Event: want, Campaign: "spring"})
	if err != nil {
		t.Fatalf("encoding with v2: %v", err)
	}

	dec, err := NewDecoder(cl)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	var got event.Event
	if err := dec.Decode(t.Context(), append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), body...), &got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode of v2 data mismatch (-want +got):\n%s", diff)
	}
}

func BenchmarkAppend(b *testing.B) {
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	e := typicalEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = c.Append(buf[:0], &e); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendParallel(b *testing.B) {
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := typicalEvent()
		buf := make([]byte, 0, 1024)
		var err error
		for pb.Next() {
			if buf, err = c.Append(buf[:0], &e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecode(b *testing.B) {
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDecoder(nil)
	if err != nil {
		b.Fatal(err)
	}
	e := typicalEvent()
	in, err := c.Append(nil, &e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var got event.Event
	for b.Loop() {
		if err := d.Decode(b.Context(), in, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// FuzzDecode feeds Decode arbitrary bytes: it must never panic, and what it
// accepts must encode back to an equal event.
func FuzzDecode(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range sampleEvents() {
		b, err := c.Append(nil, &tc.event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d, err := NewDecoder(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var e event.Event
		if err := d.Decode(t.Context(), in, &e); err != nil {
			return
		}
		b, err := c.Append(nil, &e)
		if err != nil {
			t.Fatalf("Append of a decoded event: %v", err)
		}
		var again event.Event
		if err := d.Decode(t.Context(), b, &again); err != nil {
			t.Fatalf("Decode(Append(decoded)): %v", err)
		}
		if diff := cmp.Diff(e, again); diff != "" {
			t.Errorf("Decode(Append(decoded)) mismatch (-want +got):\n%s", diff)
		}
	})
}
