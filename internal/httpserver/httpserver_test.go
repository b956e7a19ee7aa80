package httpserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecoverAnswers500AndLogs(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	srv := httptest.NewServer(New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}), logger).Handler)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/anything")
	if err != nil {
		t.Fatalf("GET: %v (a panic must not drop the connection)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
	if got := logs.String(); !strings.Contains(got, `"msg":"handler panicked"`) || !strings.Contains(got, `"panic":"boom"`) {
		t.Errorf("log = %s, want one handler panicked line with the panic value", got)
	}
}
