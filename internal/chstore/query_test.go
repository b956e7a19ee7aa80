package chstore_test

import (
	"strings"
	"testing"

	"github.com/reftrail/reftrail/internal/chstore"
)

func TestBindQuery(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		params  map[string]any
		want    string
		wantErr bool
	}{
		{
			name:   "string is quoted and escaped",
			query:  "SELECT {p:String}",
			params: map[string]any{"p": `it's a \ test`},
			want:   `SELECT 'it\'s a \\ test'`,
		},
		{
			name:   "integers keep their type, repeated placeholders all bound",
			query:  "SELECT {a:Int64} + {a:Int64}, {b:UInt8}",
			params: map[string]any{"a": int64(-5), "b": 255},
			want:   "SELECT toInt64(-5) + toInt64(-5), toUInt8(255)",
		},
		{name: "missing parameter", query: "SELECT {a:Int64}", params: map[string]any{}, wantErr: true},
		{name: "unused parameter", query: "SELECT 1", params: map[string]any{"a": 1}, wantErr: true},
		{name: "wrong Go type", query: "SELECT {a:Int64}", params: map[string]any{"a": "1"}, wantErr: true},
		{name: "out of range", query: "SELECT {a:UInt8}", params: map[string]any{"a": 256}, wantErr: true},
		{name: "negative unsigned", query: "SELECT {a:UInt64}", params: map[string]any{"a": -1}, wantErr: true},
		{name: "unsupported type", query: "SELECT {a:DateTime}", params: map[string]any{"a": 1}, wantErr: true},
		{name: "two types for one name", query: "SELECT {a:Int64}, {a:String}", params: map[string]any{"a": 1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chstore.BindQuery(tt.query, tt.params)
			if (err != nil) != tt.wantErr {
				t.Fatalf("BindQuery(%q) error = %v, want error %v", tt.query, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("BindQuery(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

// TestQueriesBind checks that every embedded query loads and names its
// parameters as its header documents.
func TestQueriesBind(t *testing.T) {
	period := map[string]any{"from_ms": int64(0), "to_ms": int64(1)}
	participant := map[string]any{"platform": "INSTAGRAM", "account_id": "a", "participant_id": "p"}
	tests := []struct {
		name   string
		params map[string]any
	}{
		{name: "funnel", params: period},
		{name: "referral_outcomes", params: period},
		{name: "funnel_by", params: map[string]any{"from_ms": int64(0), "to_ms": int64(1), "settled_to_ms": int64(0), "by": "ref"}},
		{name: "attribution", params: period},
		{name: "pipeline_health", params: period},
		{name: "open_windows", params: map[string]any{"now_ms": int64(0)}},
		{name: "participant_history", params: participant},
		{name: "participant", params: participant},
		{name: "campaign_daily", params: map[string]any{"from_day": "2024-01-01", "to_day": "2024-01-31"}},
		{name: "windows", params: map[string]any{
			"platform": "INSTAGRAM", "account_id": "a", "now_ms": int64(0),
			"after_expires_ms": int64(0), "after_participant": "", "marketing_only": 0,
		}},
		{name: "windows_page", params: map[string]any{
			"platform": "INSTAGRAM", "account_id": "a", "now_ms": int64(0), "after_expires_ms": int64(0), "after_participant": "",
		}},
		{name: "referrals_per_day", params: map[string]any{"from_ms": int64(0), "to_ms": int64(1), "tz": "UTC"}},
		{name: "dead_letter_counts", params: period},
		{name: "pipeline_latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := chstore.Query(tt.name)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if _, err := chstore.BindQuery(q, tt.params); err != nil {
				t.Errorf("BindQuery: %v", err)
			}
		})
	}
}

// funnel_by.sql judges its live referrals with referral_outcomes.sql's text,
// which also settles outcomes: the two must not drift apart.
func TestFunnelByRepeatsReferralOutcomes(t *testing.T) {
	outcomes, err := chstore.Query("referral_outcomes")
	if err != nil {
		t.Fatal(err)
	}
	funnelBy, err := chstore.Query("funnel_by")
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, line := range strings.Split(outcomes, "\n") {
		if !strings.HasPrefix(line, "--") {
			body = append(body, line)
		}
	}
	live := strings.ReplaceAll(strings.Join(body, "\n"), "{from_ms:Int64}", "greatest({from_ms:Int64}, {settled_to_ms:Int64})")
	if !strings.Contains(strings.Join(strings.Fields(funnelBy), " "), strings.Join(strings.Fields(live), " ")) {
		t.Errorf("funnel_by.sql's live part is not referral_outcomes.sql with from_ms raised to settled_to_ms")
	}
}
