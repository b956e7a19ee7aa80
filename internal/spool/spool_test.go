package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func open(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendAll(t *testing.T, s *Spool, datas ...string) {
	t.Helper()
	for _, d := range datas {
		if err := s.Append(context.Background(), []byte(d)); err != nil {
			t.Fatalf("Append(%q): %v", d, err)
		}
	}
}

// drain peeks and acknowledges until the spool is empty, returning the data
// in the order read.
func drain(t *testing.T, s *Spool, maxBytes int) []string {
	t.Helper()
	var got []string
	for !s.Empty() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		recs, err := s.Peek(ctx, maxBytes)
		cancel()
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		if err := s.Ack(recs[len(recs)-1]); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	return got
}

func records(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("record %03d %s", i, "payload-payload-payload-payload")
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func TestFIFOAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 512})
	want := records(100)
	appendAll(t, s, want...)
	if n := len(segments(t, dir)); n < 5 {
		t.Fatalf("%d segment files for 100 records of 512-byte segments, want several", n)
	}
	st := s.Stats()
	if st.Records != 100 || st.Oldest.IsZero() {
		t.Errorf("Stats = %+v, want 100 records and an oldest time", st)
	}

	// Acknowledging part of the records removes the segments behind them only.
	recs, err := s.Peek(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	before := len(segments(t, dir))
	if err := s.Ack(recs[len(recs)-1]); err != nil {
		t.Fatal(err)
	}
	if after := len(segments(t, dir)); after >= before {
		t.Errorf("%d segments before acknowledging %d records, %d after; want fewer", before, len(recs), after)
	}

	got := append(stringsOf(recs), drain(t, s, 1000)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records read (-want +got):\n%s", diff)
	}
	if files := segments(t, dir); len(files) != 0 {
		t.Errorf("a drained spool left %v", files)
	}
	if st := s.Stats(); st.Records != 0 || st.Bytes != 0 || !st.Oldest.IsZero() {
		t.Errorf("Stats after draining = %+v, want zero", st)
	}
	// It takes appends again after draining.
	appendAll(t, s, "after")
	if got := drain(t, s, 1000); !slices.Equal(got, []string{"after"}) {
		t.Errorf("after draining and appending, read %q", got)
	}
}

func stringsOf(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

func TestPeekWithoutAckRereads(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1 << 20})
	appendAll(t, s, "a", "b", "c")
	first, err := s.Peek(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := stringsOf(first); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Peek with a 1-byte limit = %q, want the first record alone", got)
	}
	again, err := s.Peek(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := stringsOf(again); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Peek again = %q, want all three from the start", got)
	}
}

func TestPeekWaitsForAppend(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1 << 20})
	got := make(chan []Record, 1)
	go func() {
		recs, err := s.Peek(context.Background(), 1<<20)
		if err != nil {
			t.Error(err)
		}
		got <- recs
	}()
	time.Sleep(50 * time.Millisecond)
	appendAll(t, s, "late")
	select {
	case recs := <-got:
		if len(recs) != 1 || string(recs[0].Data) != "late" {
			t.Errorf("Peek = %q, want [late]", stringsOf(recs))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Peek did not return after an append")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Peek(ctx, 1<<20); err != nil {
		t.Fatalf("Peek of a record not acknowledged = %v", err)
	}
}

func TestReopenKeepsUnacknowledged(t *testing.T) {
	dir := t.TempDir()
	want := records(50)
	s, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, want...)
	recs, err := s.Peek(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledge up to a record in the middle of a segment: the records
	// before it in that segment are read again after a restart.
	if err := s.Ack(recs[20]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 1024})
	if s.Repaired() != nil {
		t.Errorf("clean reopen repaired %+v", s.Repaired())
	}
	got := drain(t, s, 1<<20)
	if len(got) < 29 || !slices.Equal(got[len(got)-29:], want[21:]) {
		t.Fatalf("after reopen read %d records; want every unacknowledged one (%d) in order at the end", len(got), 29)
	}
	first := slices.Index(want, got[0])
	if first < 0 || first > 21 || !slices.Equal(got, want[first:]) {
		t.Errorf("after reopen read %q..., want a contiguous run of the original order", got[0])
	}
}

func TestOpenRepairsTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
	}{
		{name: "cut inside the last record's data", damage: func(t *testing.T, path string, size int64) { truncate(t, path, size-5) }},
		{name: "cut inside the last record's header", damage: func(t *testing.T, path string, size int64) {
			truncate(t, path, size-int64(len(records(3)[2]))-headerSize+7)
		}},
		{name: "last record's checksum fails", damage: func(t *testing.T, path string, size int64) { flip(t, path, size-3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			want := records(3)
			appendAll(t, s, want...)
			s.Close()
			seg := segments(t, dir)[0]
			info, _ := os.Stat(seg)
			tt.damage(t, seg, info.Size())

			s = open(t, dir, Options{MaxBytes: 1 << 20})
			if s.Repaired() == nil {
				t.Error("Repaired() = nil, want the cut reported")
			}
			appendAll(t, s, "new")
			got := drain(t, s, 1<<20)
			if diff := cmp.Diff(append(want[:2:2], "new"), got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenRefusesCorruption(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{name: "checksum fails in a record followed by others", damage: func(t *testing.T, dir string) {
			flip(t, segments(t, dir)[0], headerSize+3)
		}},
		{name: "an older segment cut short", damage: func(t *testing.T, dir string) {
			seg := segments(t, dir)[0]
			info, _ := os.Stat(seg)
			truncate(t, seg, info.Size()-1)
		}},
		{name: "a segment missing in the middle", damage: func(t *testing.T, dir string) {
			if err := os.Remove(segments(t, dir)[1]); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 256})
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, s, records(20)...)
			s.Close()
			if n := len(segments(t, dir)); n < 3 {
				t.Fatalf("%d segments, want at least 3", n)
			}
			tt.damage(t, dir)
			s, err = Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 256})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestFullBudget(t *testing.T) {
	const maxBytes = 4096
	s := open(t, t.TempDir(), Options{MaxBytes: maxBytes, SegmentBytes: 1024})
	record := make([]byte, 100)
	n := 0
	for ; ; n++ {
		err := s.Append(context.Background(), record)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > maxBytes {
			t.Fatal("Append never returned ErrFull")
		}
	}
	if want := maxBytes / (headerSize + len(record)); n != want {
		t.Errorf("%d appends fit in %d bytes, want %d", n, maxBytes, want)
	}
	if st := s.Stats(); st.Bytes > maxBytes {
		t.Errorf("spool holds %d bytes, over its %d budget", st.Bytes, maxBytes)
	}
	if ok, err := s.Room(len(record)); ok || err != nil {
		t.Errorf("Room = %v, %v on a full spool, want false, nil", ok, err)
	}
	drain(t, s, 1<<20)
	if err := s.Append(context.Background(), record); err != nil {
		t.Errorf("Append after draining = %v, want nil", err)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if second, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		if err == nil {
			second.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	s.Close()
	again, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close = %v, want nil", err)
	}
	again.Close()
}

func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1 << 24})
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Append(context.Background(), fmt.Appendf(nil, "%d/%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Records != writers*each {
		t.Fatalf("%d records, want %d", st.Records, writers*each)
	}
	if st.Commits >= writers*each {
		t.Errorf("%d fsyncs for %d concurrent appends, want fewer (one per group)", st.Commits, writers*each)
	}
	t.Logf("%d appends from %d goroutines in %d commits", writers*each, writers, st.Commits)
	// Each writer's records stay in its own order.
	next := make(map[int]int)
	for _, d := range drain(t, s, 1<<20) {
		var w, i int
		fmt.Sscanf(d, "%d/%d", &w, &i)
		if i != next[w] {
			t.Fatalf("writer %d: read record %d, want %d", w, i, next[w])
		}
		next[w]++
	}
}

func TestAppendAfterClose(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	s.Close()
	if err := s.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

// TestDiskErrorStopsAppends: after a failed write the spool refuses every
// append (the page cache can no longer be trusted) and says so through Room,
// while the records already fsync'd stay readable.
func TestDiskErrorStopsAppends(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1 << 20})
	appendAll(t, s, "durable")
	// The disk goes away under the writer: its file handle stops working.
	s.wmu.Lock()
	s.tail.Close()
	s.wmu.Unlock()
	if err := s.Append(context.Background(), []byte("lost")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after a write error = %v, want ErrFailed", err)
	}
	if err := s.Append(context.Background(), []byte("later")); !errors.Is(err, ErrFailed) {
		t.Errorf("next Append = %v, want ErrFailed again", err)
	}
	if ok, err := s.Room(10); ok || !errors.Is(err, ErrFailed) {
		t.Errorf("Room = %v, %v; want false, ErrFailed", ok, err)
	}
	recs, err := s.Peek(context.Background(), 1<<20)
	if err != nil || len(recs) != 1 || string(recs[0].Data) != "durable" {
		t.Errorf("Peek = %q, %v; want the record fsync'd before the error", stringsOf(recs), err)
	}
}
