package meta

import (
	"os"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every answer is either a
// *DecodeError with a Reason or a Result whose events are complete and whose
// bad items have reasons, and that the layered fallback agrees with the fast
// path. It is seeded with the golden corpus.
func FuzzDecode(f *testing.F) {
	for _, file := range payloadFiles(f) {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatalf("reading payload: %v", err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := Decode(body, testSource)
		checkInvariants(t, body, res, err)
		compareLayered(t, body)
	})
}
