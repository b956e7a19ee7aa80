package bulkload_test

import (
	"context"
	"testing"

	"github.com/reftrail/reftrail/internal/dev/bulkload"
	"github.com/reftrail/reftrail/internal/dev/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestIntegrationLoad(t *testing.T) {
	srv := chtest.Start(t)
	store, db := srv.NewStore(t)
	ctx := context.Background()
	const want = 120_000
	var calls int
	st, err := bulkload.Load(ctx, store, bulkload.Options{Events: want, BatchRows: 20_000}, func(int) { calls++ })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if st.Events < want || st.Events >= want+20_000 {
		t.Errorf("Load wrote %d events, want %d up to a batch more", st.Events, want)
	}
	if calls == 0 || st.DeadLetters == 0 {
		t.Errorf("Load reported progress %d times and wrote %d dead letters, want both", calls, st.DeadLetters)
	}
	conn := srv.Conn(t, db)
	var rows, distinct, referrals, ads, optouts uint64
	err = conn.QueryRow(ctx, `SELECT count(), uniqExact(event_id), countIf(isNotNull(referral_ref)),
		countIf(referral_source = 'ADS'), countIf(optin_status = 'STOP') FROM events`).Scan(&rows, &distinct, &referrals, &ads, &optouts)
	if err != nil {
		t.Fatalf("counting: %v", err)
	}
	if rows != uint64(st.Events) || distinct >= rows || referrals == 0 || ads == 0 {
		t.Errorf("events holds %d rows (Load wrote %d) of %d ids, %d referrals, %d from ads: want every row, duplicates, referrals and ads",
			rows, st.Events, distinct, referrals, ads)
	}
	t.Logf("%d events (%d distinct, %d referrals, %d from ads, %d opt-outs), %d dead letters in %v", rows, distinct, referrals, ads, optouts, st.DeadLetters, st.Elapsed)
}
