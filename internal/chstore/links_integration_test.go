package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/links"
)

func TestIntegrationLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	at := func(min int) time.Time { return time.Date(2026, 3, 1, 9, min, 0, 0, time.UTC) }
	spring := links.Link{
		Ref: "spring_qr", Platform: links.Instagram, Handle: "shop", Kind: links.KindThread,
		URL: "https://ig.me/m/shop?ref=spring_qr", Campaign: "Spring", Channel: "qr", Medium: "print",
		Variant: "a", Note: "poster in store's window", CreatedAt: at(0),
	}
	summer := links.Link{
		Ref: "summer", Platform: links.Messenger, AccountID: "104", Handle: "shop.page", Kind: links.KindThread,
		URL: "https://m.me/shop.page?ref=summer", Campaign: "Summer", Channel: "bio", CreatedAt: at(1),
	}
	news := links.Link{
		Ref: "news", Platform: links.Messenger, Handle: "shop.page", Kind: links.KindOptin,
		URL: "https://m.me/rn/shop.page?topic=news&cadence=daily", Campaign: "Summer", Channel: "email", CreatedAt: at(2),
	}
	for _, l := range []links.Link{spring, summer, news} {
		if err := e.store.InsertLink(ctx, l); err != nil {
			t.Fatalf("InsertLink: %v", err)
		}
	}
	// A change of spring_qr: the latest version wins everywhere.
	changed := spring
	changed.Variant, changed.Note = "b", ""
	if err := e.store.InsertLink(ctx, changed); err != nil {
		t.Fatalf("InsertLink: %v", err)
	}
	archived := news
	archived.Archived = true
	if err := e.store.InsertLink(ctx, archived); err != nil {
		t.Fatalf("InsertLink: %v", err)
	}

	t.Run("get", func(t *testing.T) {
		for _, want := range []links.Link{changed, summer, archived} {
			got, ok, err := e.store.Link(ctx, want.Ref)
			if err != nil || !ok {
				t.Fatalf("Link(%q) = %v, %v", want.Ref, ok, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Link(%q) (-want +got):\n%s", want.Ref, diff)
			}
		}
		if got, ok, err := e.store.Link(ctx, "nope' OR 1"); err != nil || ok {
			t.Errorf("Link of an unknown ref = %+v, %v, %v; want not found", got, ok, err)
		}
	})

	refs := func(ls []links.Link) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Ref)
		}
		return out
	}
	tests := []struct {
		name   string
		filter chstore.LinkFilter
		want   []string
	}{
		{"newest first, archived left out", chstore.LinkFilter{}, []string{"summer", "spring_qr"}},
		{"with archived", chstore.LinkFilter{Archived: true}, []string{"news", "summer", "spring_qr"}},
		{"first page", chstore.LinkFilter{Archived: true, Limit: 2}, []string{"news", "summer"}},
		{"second page", chstore.LinkFilter{Archived: true, Limit: 2, Offset: 2}, []string{"spring_qr"}},
		{"past the end", chstore.LinkFilter{Limit: 2, Offset: 2}, nil},
		{"one campaign", chstore.LinkFilter{Campaign: "Summer", Archived: true}, []string{"news", "summer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.Links(ctx, tt.filter)
			if err != nil {
				t.Fatalf("Links: %v", err)
			}
			if diff := cmp.Diff(tt.want, refs(got)); diff != "" {
				t.Errorf("Links(%+v) refs (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func TestIntegrationCampaignRollups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.conn.Exec(ctx, "SYSTEM STOP MERGES "+e.db+".events"); err != nil {
		t.Fatalf("stopping merges: %v", err)
	}
	if err := e.conn.Exec(ctx, "SYSTEM STOP MERGES "+e.db+".links"); err != nil {
		t.Fatalf("stopping merges: %v", err)
	}
	data := dataSet()
	var all []event.Event
	for _, d := range data {
		all = append(all, d.ev)
	}
	// Every event twice, and Meta's redeliveries on top.
	for range 2 {
		if err := e.store.InsertEvents(ctx, all, time.UnixMilli(t0+10*day)); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
	for _, d := range duplicates(data) {
		if err := e.store.InsertEvents(ctx, []event.Event{d.ev}, d.insertedAt()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
	// The catalog: spring twice (an older campaign name first), summer and
	// autumn; winter is missing. summer serves both platforms' refs.
	catalog := []links.Link{
		{Ref: "spring", Platform: links.Instagram, Handle: "shop", Kind: links.KindThread, Campaign: "Old name", Channel: "bio"},
		{Ref: "spring", Platform: links.Instagram, Handle: "shop", Kind: links.KindThread, Campaign: "Spring 2024", Channel: "qr"},
		{Ref: "summer", Platform: links.Instagram, Handle: "shop", Kind: links.KindThread, Campaign: "Summer", Channel: "qr"},
		{Ref: "autumn", Platform: links.Messenger, Handle: "shop.page", Kind: links.KindThread, Campaign: "Autumn", Channel: "bio"},
	}
	for _, l := range catalog {
		l.CreatedAt = time.UnixMilli(t0)
		if err := e.store.InsertLink(ctx, l); err != nil {
			t.Fatalf("InsertLink: %v", err)
		}
	}

	row := func(name string, referrals, participants, conversed, answered, returned uint64) chstore.FunnelRow {
		rate := func(a, b uint64) float64 {
			if b == 0 {
				return 0
			}
			return float64(a) / float64(b)
		}
		return chstore.FunnelRow{
			Name: name, Referrals: referrals, Participants: participants,
			Conversed: conversed, Answered: answered, Returned: returned,
			ConversedRate: rate(conversed, referrals), AnsweredRate: rate(answered, conversed), ReturnedRate: rate(returned, answered),
		}
	}
	from, to := time.UnixMilli(t0), time.UnixMilli(t0+5*day)
	tests := []struct {
		name, by string
		from, to time.Time
		want     []chstore.FunnelRow
	}{
		// The per-ref funnel over five days (queries_integration_test.go):
		// spring 4 referrals of 3 people, 2 conversed, answered and returned;
		// summer 1 on each platform, conversed; winter 1; autumn 1, answered.
		{"by campaign", "campaign", from, to, []chstore.FunnelRow{
			row("Spring 2024", 4, 3, 2, 2, 2),
			row("Summer", 2, 2, 2, 0, 0),
			row(chstore.Uncataloged, 1, 1, 0, 0, 0),
			row("Autumn", 1, 1, 1, 1, 0),
		}},
		{"by channel", "channel", from, to, []chstore.FunnelRow{
			// igsid-5 came through spring and summer: one participant.
			row("qr", 6, 4, 4, 2, 2),
			row(chstore.Uncataloged, 1, 1, 0, 0, 0),
			row("bio", 1, 1, 1, 1, 0),
		}},
		{"by ref", "ref", from, to, []chstore.FunnelRow{
			row("spring", 4, 3, 2, 2, 2),
			row("summer", 2, 2, 2, 0, 0),
			row("autumn", 1, 1, 1, 1, 0),
			row("winter", 1, 1, 0, 0, 0),
		}},
		{"by campaign, first day", "campaign", from, time.UnixMilli(t0 + day), []chstore.FunnelRow{
			row("Spring 2024", 4, 3, 2, 2, 2),
			row("Summer", 1, 1, 1, 0, 0),
		}},
		{"by campaign, no referrals", "campaign", time.UnixMilli(t0 + 10*day), time.UnixMilli(t0 + 11*day), nil},
	}
	// The same answers whether referrals are judged from events, read from
	// settled outcomes, or both: the clock decides which hours are settled
	// (those that ended 7 days and 10 minutes before it). Each clock settles
	// more of the period than the one before.
	settledAfter := 7*24*time.Hour + 10*time.Minute
	for _, clock := range []struct {
		name string
		now  time.Time
	}{
		{"nothing settled", time.UnixMilli(t0 + 5*day)},
		{"half settled", time.UnixMilli(t0 + 2*day + 12*hour).Add(settledAfter)},
		{"all settled", time.UnixMilli(t0 + 5*day).Add(settledAfter)},
	} {
		chstore.SetClock(e.store, func() time.Time { return clock.now })
		for _, tt := range tests {
			t.Run(clock.name+"/"+tt.name, func(t *testing.T) {
				got, err := e.store.Funnel(ctx, tt.from, tt.to, tt.by)
				if err != nil {
					t.Fatalf("Funnel: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Funnel by %s (-want +got):\n%s", tt.by, diff)
				}
			})
		}
		var hours uint64
		if err := e.conn.QueryRow(ctx, "SELECT uniqExact(hour) FROM "+e.db+".referral_outcome_hours").Scan(&hours); err != nil {
			t.Fatalf("counting settled hours: %v", err)
		}
		settled := max(0, chstore.SettledBefore(clock.now).Sub(time.UnixMilli(t0))/time.Hour)
		if hours != uint64(settled) {
			t.Errorf("%s: %d hours settled, want %d", clock.name, hours, settled)
		}
	}
	if _, err := e.store.Funnel(ctx, from, to, "medium"); err == nil {
		t.Errorf("Funnel by medium: want an error")
	}

	// By ref once the late reply below is in: summer's Get Started is
	// answered, and psid-3's message 3 days later makes it returned.
	afterLateReply := []chstore.FunnelRow{
		row("spring", 4, 3, 2, 2, 2),
		row("summer", 2, 2, 2, 1, 1),
		row("autumn", 1, 1, 1, 1, 0),
		row("winter", 1, 1, 0, 0, 0),
	}
	t.Run("late event", func(t *testing.T) {
		// A reply to psid-3's summer Get Started, stored long after its
		// time: the settled hour it falls in is judged again.
		late := withMID(ms("m-late", event.KindEcho, "psid-3", 3*hour, 100))
		if err := e.store.InsertEvents(ctx, []event.Event{late}, time.Now()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
		got, err := e.store.Funnel(ctx, from, to, "ref")
		if err != nil {
			t.Fatalf("Funnel: %v", err)
		}
		if diff := cmp.Diff(afterLateReply, got); diff != "" {
			t.Errorf("Funnel by ref after a late reply (-want +got):\n%s", diff)
		}
	})

	t.Run("settled twice at once", func(t *testing.T) {
		// Two consoles settling the same hours from nothing: each writes a
		// version, and the funnel counts one.
		for _, table := range []string{"referral_outcomes", "referral_outcome_hours"} {
			if err := e.conn.Exec(ctx, "TRUNCATE TABLE "+e.db+"."+table); err != nil {
				t.Fatal(err)
			}
		}
		other, err := chstore.Open(ctx, e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		now := time.UnixMilli(t0 + 5*day).Add(settledAfter)
		chstore.SetClock(other, func() time.Time { return now })
		errs := make(chan error, 2)
		for _, s := range []*chstore.Store{e.store, other} {
			go func() {
				_, _, err := s.SettleOutcomes(ctx, from, to)
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("SettleOutcomes: %v", err)
			}
		}
		var versions uint64
		if err := e.conn.QueryRow(ctx, "SELECT uniqExact(version) FROM "+e.db+".referral_outcome_hours").Scan(&versions); err != nil {
			t.Fatal(err)
		}
		if versions != 2 {
			t.Errorf("%d versions settled, want 2 (one per store)", versions)
		}
		got, err := other.Funnel(ctx, from, to, "ref")
		if err != nil {
			t.Fatalf("Funnel: %v", err)
		}
		if diff := cmp.Diff(afterLateReply, got); diff != "" {
			t.Errorf("Funnel by ref after two settles (-want +got):\n%s", diff)
		}
	})
	chstore.SetClock(e.store, time.Now)

	// Attribution over five days, per ref (queries_integration_test.go):
	// Instagram spring 5 first / 4 last, summer 0/1; Messenger no referral
	// 1/1, autumn 0/1, summer 2/1.
	attribution := []struct {
		name, by string
		want     []chstore.AttributionRow
	}{
		{"attribution by campaign", "campaign", []chstore.AttributionRow{
			{Name: "Spring 2024", FirstTouch: 5, LastTouch: 4},
			{Name: "Summer", FirstTouch: 2, LastTouch: 2},
			{Name: chstore.NoReferral, FirstTouch: 1, LastTouch: 1},
			{Name: "Autumn", FirstTouch: 0, LastTouch: 1},
		}},
		{"attribution by channel", "channel", []chstore.AttributionRow{
			{Name: "qr", FirstTouch: 7, LastTouch: 6},
			{Name: chstore.NoReferral, FirstTouch: 1, LastTouch: 1},
			{Name: "bio", FirstTouch: 0, LastTouch: 1},
		}},
		{"attribution by ref", "ref", []chstore.AttributionRow{
			{Name: "spring", FirstTouch: 5, LastTouch: 4},
			{Name: "summer", FirstTouch: 2, LastTouch: 2},
			{Name: chstore.NoReferral, FirstTouch: 1, LastTouch: 1},
			{Name: "autumn", FirstTouch: 0, LastTouch: 1},
		}},
	}
	// Referrals per day (t0 is 2024-03-10): spring's four and psid-3's
	// summer on the first day; autumn on the 13th; summer and winter on the
	// 14th.
	daily := []struct {
		by   string
		want []chstore.DailyRow
	}{
		{"campaign", []chstore.DailyRow{
			{Day: date(2024, 3, 10), Name: "Spring 2024", Referrals: 4},
			{Day: date(2024, 3, 10), Name: "Summer", Referrals: 1},
			{Day: date(2024, 3, 13), Name: "Autumn", Referrals: 1},
			{Day: date(2024, 3, 14), Name: chstore.Uncataloged, Referrals: 1},
			{Day: date(2024, 3, 14), Name: "Summer", Referrals: 1},
		}},
		{"channel", []chstore.DailyRow{
			{Day: date(2024, 3, 10), Name: "qr", Referrals: 5},
			{Day: date(2024, 3, 13), Name: "bio", Referrals: 1},
			{Day: date(2024, 3, 14), Name: chstore.Uncataloged, Referrals: 1},
			{Day: date(2024, 3, 14), Name: "qr", Referrals: 1},
		}},
	}
	for _, tt := range daily {
		t.Run("referrals per day by "+tt.by, func(t *testing.T) {
			got, err := e.store.ReferralsDaily(ctx, from, to, tt.by)
			if err != nil {
				t.Fatalf("ReferralsDaily: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReferralsDaily by %s (-want +got):\n%s", tt.by, diff)
			}
		})
	}

	for _, tt := range attribution {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.Attribution(ctx, from, to, tt.by)
			if err != nil {
				t.Fatalf("Attribution: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Attribution by %s (-want +got):\n%s", tt.by, diff)
			}
		})
	}
}
