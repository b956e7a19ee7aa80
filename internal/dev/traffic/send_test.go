package traffic

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/reftrail/reftrail/internal/meta"
)

// counts are the comparable fields of a Report.
type counts struct{ Sent, Accepted, Retried, Failed int }

func TestSend(t *testing.T) {
	const secret = "send-secret"
	webhooks := newPlan(t, Options{Seed: 2, Participants: 10}).Webhooks()
	n := len(webhooks)
	tests := []struct {
		name        string
		unavailable int // 503s answered before status
		status      int
		retries     int
		wantRep     counts
		wantErr     string
	}{
		{name: "accepted after 503s", unavailable: 2, status: http.StatusOK, retries: 3,
			wantRep: counts{Sent: n, Accepted: n, Retried: 2}},
		{name: "413 is final", status: http.StatusRequestEntityTooLarge, retries: 3,
			wantRep: counts{Sent: n, Failed: n}, wantErr: "not delivered, first: after 1 attempts: posting webhook: answered 413"},
		{name: "503 beyond the retries", unavailable: 1 << 20, retries: 1,
			wantRep: counts{Sent: n, Retried: n, Failed: n}, wantErr: "answered 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu          sync.Mutex
				unavailable = tt.unavailable
			)
			verifier := meta.NewVerifier([]string{secret})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := verifier.Verify(r.Header.Get(meta.SignatureHeader), body); err != nil {
					t.Errorf("verifying signature: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if unavailable > 0 {
					unavailable--
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()

			rep, err := Send(t.Context(), nil, srv.URL, secret, webhooks, SendOptions{Concurrency: 3, Retries: tt.retries, Backoff: 1})
			if tt.wantErr == "" && err != nil {
				t.Errorf("Send: %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Send error %v, want one containing %q", err, tt.wantErr)
			}
			got := counts{Sent: rep.Sent, Accepted: rep.Accepted, Retried: rep.Retried, Failed: rep.Failed}
			if got != tt.wantRep {
				t.Errorf("Send report %+v, want %+v (answers %s)", got, tt.wantRep, rep.Answers())
			}
		})
	}
}
