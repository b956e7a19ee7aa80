package chstore

import "time"

// SetClock replaces the clock that Participant and Windows judge windows by.
func SetClock(s *Store, now func() time.Time) { s.now = now }

// SettledBefore is the end of the hours Store settles at now.
var SettledBefore = settledBefore
