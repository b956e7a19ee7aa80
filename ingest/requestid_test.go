package main

import (
	"regexp"
	"testing"
)

func TestRequestIDsAreUniqueBase32(t *testing.T) {
	ids := newRequestIDs()
	format := regexp.MustCompile(`^[A-Z2-7]{26}$`)
	seen := make(map[string]bool)
	for range 100000 {
		id := ids.next()
		if !format.MatchString(id) {
			t.Fatalf("id %q is not 26 characters of base32", id)
		}
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
	}
	// Another process draws another key: its ids are others.
	if other := newRequestIDs().next(); seen[other] {
		t.Errorf("a second generator's first id %q was the first's too", other)
	}
}
