package meta

import (
	"encoding/json"
	"testing"
)

func TestTimestamp(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantMS  int64
		wantSet bool
		wantErr bool
	}{
		{name: "milliseconds", json: `1458692752478`, wantMS: 1458692752478, wantSet: true},
		{name: "seconds", json: `1527459824`, wantMS: 1527459824000, wantSet: true},
		{name: "milliseconds string", json: `"1458692752478"`, wantMS: 1458692752478, wantSet: true},
		{name: "seconds string", json: `"1527459824"`, wantMS: 1527459824000, wantSet: true},
		{name: "seconds with fraction", json: `1527459824.1239`, wantMS: 1527459824124, wantSet: true},
		{name: "milliseconds with fraction", json: `1458692752478.9`, wantMS: 1458692752478, wantSet: true},
		{name: "milliseconds exponent", json: `1.458692752478e12`, wantMS: 1458692752478, wantSet: true},
		{name: "largest seconds", json: `99999999999`, wantMS: 99999999999000, wantSet: true},
		{name: "smallest milliseconds", json: `100000000000`, wantMS: 100000000000, wantSet: true},
		{name: "largest milliseconds", json: `99999999999999`, wantMS: 99999999999999, wantSet: true},
		{name: "one second", json: `1`, wantMS: 1000, wantSet: true},
		{name: "too large", json: `100000000000000`, wantSet: true, wantErr: true},
		{name: "beyond int64", json: `99999999999999999999`, wantSet: true, wantErr: true},
		{name: "huge exponent", json: `1e400`, wantSet: true, wantErr: true},
		{name: "zero", json: `0`, wantSet: true, wantErr: true},
		{name: "negative", json: `-1458692752478`, wantSet: true, wantErr: true},
		{name: "rounds to zero", json: `0.0001`, wantSet: true, wantErr: true},
		{name: "empty string", json: `""`, wantSet: true, wantErr: true},
		{name: "placeholder string", json: `"TIMESTAMP"`, wantSet: true, wantErr: true},
		{name: "spaces in string", json: `" 1458692752478"`, wantSet: true, wantErr: true},
		{name: "hex string", json: `"0x1p40"`, wantSet: true, wantErr: true},
		{name: "infinity string", json: `"Inf"`, wantSet: true, wantErr: true},
		{name: "plus sign string", json: `"+1458692752478"`, wantSet: true, wantErr: true},
		{name: "escaped digits string", json: `"\u0031458692752478"`, wantSet: true, wantErr: true},
		{name: "ISO date string", json: `"2024-05-29T16:26:40Z"`, wantSet: true, wantErr: true},
		{name: "boolean", json: `true`, wantSet: true, wantErr: true},
		{name: "object", json: `{"ms":1}`, wantSet: true, wantErr: true},
		{name: "null", json: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got timestamp
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v, want no error (errors are kept per item)", tt.json, err)
			}
			if got.set != tt.wantSet || (got.err != "") != tt.wantErr || (!tt.wantErr && got.ms != tt.wantMS) {
				t.Errorf("timestamp(%s) = {ms: %d, set: %v, err: %q}, want {ms: %d, set: %v, err: %v}", tt.json, got.ms, got.set, got.err, tt.wantMS, tt.wantSet, tt.wantErr)
			}
		})
	}
}

func TestFlexID(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    string
		wantSet bool
	}{
		{name: "string", json: `"17841400000000001"`, want: "17841400000000001", wantSet: true},
		{name: "number keeps its digits", json: `17841400000000001`, want: "17841400000000001", wantSet: true},
		{name: "escaped string", json: `"a\u00e9b"`, want: "aéb", wantSet: true},
		{name: "empty string", json: `""`, want: "", wantSet: true},
		{name: "null", json: `null`},
		{name: "object", json: `{"id":"1"}`},
		{name: "boolean", json: `false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got flexID
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v, want no error", tt.json, err)
			}
			if got.s != tt.want || got.set != tt.wantSet {
				t.Errorf("flexID(%s) = {%q, set: %v}, want {%q, set: %v}", tt.json, got.s, got.set, tt.want, tt.wantSet)
			}
		})
	}
}
