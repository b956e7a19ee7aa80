package traffic

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

// QueryFunnel runs schemas/clickhouse/queries/funnel.sql over [fromMs, toMs)
// on conn, whose default database holds reftrail's tables, and returns its
// rows in the form of Expected.Funnel, so a plan can be checked against what
// the pipeline stored.
func QueryFunnel(ctx context.Context, conn driver.Conn, fromMs, toMs int64) ([]FunnelRow, error) {
	text, err := chstore.Query("funnel")
	if err != nil {
		return nil, err
	}
	query, err := chstore.BindQuery(text, map[string]any{"from_ms": fromMs, "to_ms": toMs})
	if err != nil {
		return nil, fmt.Errorf("preparing the funnel query: %w", err)
	}
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("running the funnel query: %w", err)
	}
	defer rows.Close()
	var out []FunnelRow
	for rows.Next() {
		var (
			platform, account, ref                                 string
			referrals, participants, conversed, answered, returned uint64
		)
		if err := rows.Scan(&platform, &account, &ref, &referrals, &participants, &conversed, &answered, &returned); err != nil {
			return nil, fmt.Errorf("reading the funnel: %w", err)
		}
		out = append(out, FunnelRow{
			Platform: event.Platform(platform), AccountID: account, Ref: ref,
			Referrals: int(referrals), Participants: int(participants),
			Conversed: int(conversed), Answered: int(answered), Returned: int(returned),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the funnel: %w", err)
	}
	return out, nil
}
