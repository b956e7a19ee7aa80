package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /notready", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: kafka: dial tcp: connection refused", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(mux)
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr string // empty: success
	}{
		{name: "ready", args: []string{srv.URL + "/readyz"}},
		{name: "not ready shows the reason", args: []string{srv.URL + "/notready"}, wantErr: "503 Service Unavailable: not ready: kafka"},
		{name: "not found", args: []string{srv.URL + "/nope"}, wantErr: "404"},
		{name: "nothing listening", args: []string{closedURL + "/readyz"}, wantErr: "getting " + closedURL},
		{name: "no URL", args: nil, wantErr: "usage: probe URL"},
		{name: "two URLs", args: []string{srv.URL, srv.URL}, wantErr: "usage: probe URL"},
		{name: "bad URL", args: []string{"http://[::1"}, wantErr: "building request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run(%q) = %v, want nil", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}
