// Package spool is a durable first-in, first-out queue of byte records in a
// local directory: ingest's write-ahead log for the time Kafka cannot take its
// records. It follows etcd's wal: every record carries a CRC, records live in
// segment files, a torn last record is cut off at open, an append returns only
// after fsync, and one fsync serves every append waiting at that moment (group
// commit). A lock file keeps a second process off the directory.
//
// On disk: files named <index of their first record, 20 digits>.seg, each a
// sequence of records
//
//	length   uint32 little endian, of data
//	crc      uint32 little endian, CRC-32C of appended-at and data
//	appended int64 little endian, Unix ms
//	data     length bytes
//
// The read position is not persisted: a segment is removed once every record
// in it is acknowledged, and after a restart the records of a partly
// acknowledged segment are read again (at-least-once).
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of Open and Append.
var (
	// ErrFull: the append would take the spool past Options.MaxBytes.
	ErrFull = errors.New("spool full")
	// ErrFailed: a write or fsync failed. The spool refuses appends from
	// then on: after a failed fsync the page cache may hold data the disk
	// does not, so only a restart (which re-reads the files) is safe.
	ErrFailed = errors.New("spool disk failed")
	// ErrCorrupt: a record that is not the last one fails its checksum or
	// is cut short. Open refuses the directory rather than drop records
	// that may have been acknowledged.
	ErrCorrupt = errors.New("spool corrupt")
	// ErrLocked: another process holds the directory.
	ErrLocked = errors.New("spool directory in use by another process")
	// ErrClosed: the spool was closed.
	ErrClosed = errors.New("spool closed")
)

const (
	headerSize = 16
	lockName   = "LOCK"
	segSuffix  = ".seg"
	// maxBatchRecords bounds one group commit, so a flood of appends still
	// gets fsyncs at a steady pace.
	maxBatchRecords = 4096
	// maxKeptBuffer is the largest encoding buffer kept between commits.
	maxKeptBuffer = 4 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options size a spool.
type Options struct {
	// MaxBytes caps the bytes of all segment files, headers included
	// (default 1 GiB). A segment is only removed once all of it is
	// acknowledged, so up to one segment of acknowledged records still counts.
	MaxBytes int64
	// SegmentBytes is the size at which the next append starts a new segment
	// (default MaxBytes/8, between 64 KiB and 64 MiB). A record larger than
	// that gets a segment of its own.
	SegmentBytes int64
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(max(o.MaxBytes/8, 64<<10), 64<<20)
	}
	return o
}

// Record is one record read back from the spool.
type Record struct {
	Data []byte
	// AppendedAt is when Append was called, to the millisecond.
	AppendedAt time.Time

	index uint64
	seg   *segment
	end   int64 // offset just past the record in seg
}

// Stats describe what the spool holds.
type Stats struct {
	// Bytes on disk, acknowledged records of a segment not yet removed
	// included.
	Bytes int64
	// Records appended and not acknowledged yet.
	Records int64
	// Oldest is when the oldest unacknowledged record was appended; zero
	// when there is none.
	Oldest time.Time
	// Commits counts group commits (fsyncs of appended records) since Open.
	Commits uint64
}

// Repair says what Open cut off the end of the last segment.
type Repair struct {
	Segment      string
	Offset       int64
	DroppedBytes int64
}

type segment struct {
	first uint64 // index of its first record
	path  string
	size  int64 // bytes written and fsync'd
	count uint64
}

type appendReq struct {
	data []byte
	at   time.Time
	done chan error
}

// Spool is a durable FIFO queue of records. Append may be called from many
// goroutines; Peek and Ack from one reader at a time.
type Spool struct {
	dir  string
	opts Options
	lock *os.File

	appends chan *appendReq
	closing chan struct{}
	stopped chan struct{}
	repair  *Repair

	// wmu is held by the writer for a whole commit and by Ack when it
	// removes the tail segment; taken before mu.
	wmu  sync.Mutex
	tail *os.File

	mu       sync.Mutex
	closed   bool
	failed   error
	segs     []*segment // oldest first; the last one takes appends
	bytes    int64      // fsync'd bytes of all segments
	pending  int64      // bytes of appends accepted but not written yet
	queued   int64      // appends accepted but not written yet
	durable  uint64     // index of the next record to be written
	acked    uint64     // index of the oldest unacknowledged record
	headOff  int64      // its offset in segs[0]
	oldest   time.Time
	commits  uint64
	appended chan struct{} // closed and replaced after every commit
	readFile *os.File
	readSeg  *segment
}

// Open opens or creates the spool in dir, takes its lock, checks every record
// and cuts off a torn last record; Repaired tells whether it did.
func Open(dir string, opts Options) (*Spool, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir:      dir,
		opts:     opts,
		lock:     lock,
		appends:  make(chan *appendReq, maxBatchRecords),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		appended: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	go s.writeLoop()
	return s, nil
}

// Repaired returns what Open cut off, or nil.
func (s *Spool) Repaired() *Repair { return s.repair }

// load reads the segment files, checking every record.
func (s *Spool) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("reading spool directory: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: unexpected file %s in %s", ErrCorrupt, e.Name(), s.dir)
		}
		s.segs = append(s.segs, &segment{first: first, path: filepath.Join(s.dir, e.Name())})
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpUint(a.first, b.first) })
	for i, seg := range s.segs {
		if i > 0 && seg.first != s.segs[i-1].first+s.segs[i-1].count {
			return fmt.Errorf("%w: %s does not follow %s", ErrCorrupt, filepath.Base(seg.path), filepath.Base(s.segs[i-1].path))
		}
		if err := s.scan(seg, i == len(s.segs)-1); err != nil {
			return err
		}
		s.bytes += seg.size
	}
	if len(s.segs) > 0 {
		last := s.segs[len(s.segs)-1]
		s.acked = s.segs[0].first
		s.durable = last.first + last.count
		if s.tail, err = os.OpenFile(last.path, os.O_WRONLY, 0); err != nil {
			return fmt.Errorf("opening spool segment: %w", err)
		}
		if s.acked < s.durable {
			if s.oldest, err = s.readHeaderTime(s.segs[0], 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// scan counts seg's records and checks their checksums. In the last segment a
// torn tail is cut off: a record cut short, or a last record whose checksum
// fails, was being written when the process or machine died and was never
// acknowledged. Anything else that fails is corruption.
func (s *Spool) scan(seg *segment, last bool) error {
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening spool segment: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading spool segment: %w", err)
	}
	size := info.Size()
	var off int64
	var hdr [headerSize]byte
	var data []byte
	for off < size {
		bad := ""
		n := int64(0)
		if size-off < headerSize {
			bad = "cut short"
		} else if _, err := f.ReadAt(hdr[:], off); err != nil {
			return fmt.Errorf("reading spool segment: %w", err)
		} else if n = int64(binary.LittleEndian.Uint32(hdr[0:4])); off+headerSize+n > size {
			bad = "cut short"
		} else {
			data = slices.Grow(data[:0], int(n))[:n]
			if _, err := f.ReadAt(data, off+headerSize); err != nil {
				return fmt.Errorf("reading spool segment: %w", err)
			}
			if checksum(hdr[8:16], data) != binary.LittleEndian.Uint32(hdr[4:8]) {
				bad = "checksum mismatch"
				if off+headerSize+n == size {
					bad = "checksum mismatch in last record"
				}
			}
		}
		switch {
		case bad == "":
			off += headerSize + n
			seg.count++
			continue
		case last && bad != "checksum mismatch":
			if err := f.Truncate(off); err != nil {
				return fmt.Errorf("truncating torn spool record: %w", err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("syncing repaired spool segment: %w", err)
			}
			s.repair = &Repair{Segment: filepath.Base(seg.path), Offset: off, DroppedBytes: size - off}
			seg.size = off
			return nil
		default:
			return fmt.Errorf("%w: %s at offset %d: %s (move the file aside to start without it)", ErrCorrupt, seg.path, off, bad)
		}
	}
	seg.size = off
	return nil
}

func checksum(appended, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(appended, castagnoli), castagnoli, data)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Append writes data as one record and returns once it is fsync'd. It
// returns ErrFull when the record does not fit under MaxBytes, ErrFailed
// after a disk error, and ctx's error when ctx ends first (the record may
// then still be written).
func (s *Spool) Append(ctx context.Context, data []byte) error {
	size := headerSize + int64(len(data))
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.failed != nil:
		err := s.failed
		s.mu.Unlock()
		return err
	case s.bytes+s.pending+size > s.opts.MaxBytes:
		s.mu.Unlock()
		return ErrFull
	}
	s.pending += size
	s.queued++
	s.mu.Unlock()

	req := &appendReq{data: data, at: time.Now(), done: make(chan error, 1)}
	select {
	case s.appends <- req:
	case <-ctx.Done():
		s.unqueue(size)
		return ctx.Err()
	case <-s.closing:
		s.unqueue(size)
		return ErrClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Spool) unqueue(size int64) {
	s.mu.Lock()
	s.pending -= size
	s.queued--
	s.mu.Unlock()
}

// writeLoop commits appends in groups: whatever is waiting when a commit
// starts is written at once and shares one fsync.
func (s *Spool) writeLoop() {
	defer close(s.stopped)
	batch := make([]*appendReq, 0, maxBatchRecords)
	var buf []byte
	for {
		select {
		case req := <-s.appends:
			batch = append(batch[:0], req)
		case <-s.closing:
			s.refuseQueued()
			return
		}
	drain:
		for len(batch) < maxBatchRecords {
			select {
			case req := <-s.appends:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		var err error
		buf, err = s.commit(batch, buf[:0])
		for _, req := range batch {
			req.done <- err
		}
		clear(batch)
		// A burst of large records must not pin its buffer for good.
		if cap(buf) > maxKeptBuffer {
			buf = nil
		}
	}
}

// refuseQueued answers appends still waiting at Close.
func (s *Spool) refuseQueued() {
	for {
		select {
		case req := <-s.appends:
			s.unqueue(headerSize + int64(len(req.data)))
			req.done <- ErrClosed
		default:
			return
		}
	}
}

// commit writes batch to the tail segment, starting new segments where the
// tail is full, fsyncs, and only then makes the records visible to Peek.
func (s *Spool) commit(batch []*appendReq, buf []byte) ([]byte, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	failed := s.failed
	var tailSeg *segment
	if len(s.segs) > 0 {
		tailSeg = s.segs[len(s.segs)-1]
	}
	next := s.durable
	s.mu.Unlock()

	var batchBytes int64
	for _, req := range batch {
		batchBytes += headerSize + int64(len(req.data))
	}
	if failed != nil {
		s.unqueueBatch(batch, batchBytes)
		return buf, failed
	}

	// Segments this commit fills, in order, with the bytes it adds to each.
	type write struct {
		seg   *segment
		isNew bool
		n     int
		count uint64
	}
	var writes []write
	if tailSeg != nil {
		writes = append(writes, write{seg: tailSeg})
	}
	for _, req := range batch {
		size := headerSize + len(req.data)
		w := len(writes) - 1
		if w < 0 {
			writes = append(writes, write{seg: s.newSegment(next), isNew: true})
			w++
		} else if filled := writes[w].seg.size + int64(writes[w].n); filled > 0 && filled+int64(size) > s.opts.SegmentBytes {
			writes = append(writes, write{seg: s.newSegment(next), isNew: true})
			w++
		}
		start := len(buf)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(req.data)))
		buf = binary.LittleEndian.AppendUint32(buf, 0)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(req.at.UnixMilli()))
		buf = append(buf, req.data...)
		binary.LittleEndian.PutUint32(buf[start+4:], checksum(buf[start+8:start+16], req.data))
		writes[w].n += size
		writes[w].count++
		next++
	}

	var written, writtenRecs int64
	off := 0
	for _, w := range writes {
		data := buf[off : off+w.n]
		off += w.n
		if len(data) == 0 {
			continue
		}
		if w.isNew {
			if err := s.startSegment(w.seg); err != nil {
				return buf, s.fail(batchBytes-written, int64(len(batch))-writtenRecs, err)
			}
		}
		if _, err := s.tail.WriteAt(data, w.seg.size); err != nil {
			return buf, s.fail(batchBytes-written, int64(len(batch))-writtenRecs, fmt.Errorf("writing spool segment: %w", err))
		}
		if err := s.tail.Sync(); err != nil {
			return buf, s.fail(batchBytes-written, int64(len(batch))-writtenRecs, fmt.Errorf("syncing spool segment: %w", err))
		}
		written += int64(len(data))
		writtenRecs += int64(w.count)
		s.mu.Lock()
		w.seg.size += int64(len(data))
		w.seg.count += w.count
		s.bytes += int64(len(data))
		s.pending -= int64(len(data))
		s.queued -= int64(w.count)
		if s.acked == s.durable {
			s.oldest = time.UnixMilli(int64(binary.LittleEndian.Uint64(data[8:16])))
		}
		s.durable += w.count
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.commits++
	close(s.appended)
	s.appended = make(chan struct{})
	s.mu.Unlock()
	return buf, nil
}

func (s *Spool) newSegment(first uint64) *segment {
	return &segment{first: first, path: filepath.Join(s.dir, fmt.Sprintf("%020d%s", first, segSuffix))}
}

// startSegment closes the tail and creates seg as the new one, its directory
// entry fsync'd so the file survives a power loss.
func (s *Spool) startSegment(seg *segment) error {
	if s.tail != nil {
		if err := s.tail.Close(); err != nil {
			return fmt.Errorf("closing spool segment: %w", err)
		}
		s.tail = nil
	}
	f, err := os.OpenFile(seg.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating spool segment: %w", err)
	}
	s.tail = f
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	s.segs = append(s.segs, seg)
	s.mu.Unlock()
	return nil
}

func (s *Spool) unqueueBatch(batch []*appendReq, bytes int64) {
	s.mu.Lock()
	s.pending -= bytes
	s.queued -= int64(len(batch))
	s.mu.Unlock()
}

// fail records a disk error: the spool refuses appends from now on. The
// records of the failed commit are not acknowledged; whatever of them reached
// the disk is read back after a restart (a duplicate, never a loss).
// unwritten and unwrittenRecs are what of the batch is not counted as written.
func (s *Spool) fail(unwritten, unwrittenRecs int64, err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = err
	s.pending -= unwritten
	s.queued -= unwrittenRecs
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening spool directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing spool directory: %w", err)
	}
	return nil
}

// Peek returns the oldest unacknowledged records, at least one and as many
// more as fit in maxBytes, waiting until there is one or ctx ends. It does not
// remove them: Ack does. Peek again without Ack returns the same records.
func (s *Spool) Peek(ctx context.Context, maxBytes int) ([]Record, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if s.acked < s.durable {
			break
		}
		appended := s.appended
		s.mu.Unlock()
		select {
		case <-appended:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// Durable bytes never change, so they are read outside the lock; only
	// Ack (the same reader) removes segments.
	segs := slices.Clone(s.segs)
	sizes := make([]int64, len(segs))
	for i, seg := range segs {
		sizes[i] = seg.size
	}
	index, off, durable := s.acked, s.headOff, s.durable
	s.mu.Unlock()

	var recs []Record
	var total int
	var hdr [headerSize]byte
	for i := 0; i < len(segs) && index < durable; i, off = i+1, 0 {
		f, err := s.reader(segs[i])
		if err != nil {
			return nil, err
		}
		for off < sizes[i] && index < durable {
			if _, err := f.ReadAt(hdr[:], off); err != nil {
				return nil, fmt.Errorf("reading spool segment: %w", err)
			}
			n := int(binary.LittleEndian.Uint32(hdr[0:4]))
			if len(recs) > 0 && total+n > maxBytes {
				return recs, nil
			}
			data := make([]byte, n)
			if _, err := f.ReadAt(data, off+headerSize); err != nil {
				return nil, fmt.Errorf("reading spool segment: %w", err)
			}
			if checksum(hdr[8:16], data) != binary.LittleEndian.Uint32(hdr[4:8]) {
				return nil, fmt.Errorf("%w: %s at offset %d: checksum mismatch on read", ErrCorrupt, segs[i].path, off)
			}
			off += headerSize + int64(n)
			recs = append(recs, Record{
				Data:       data,
				AppendedAt: time.UnixMilli(int64(binary.LittleEndian.Uint64(hdr[8:16]))),
				index:      index,
				seg:        segs[i],
				end:        off,
			})
			index++
			total += n
		}
	}
	return recs, nil
}

// reader returns a read handle on seg, keeping one open between calls.
func (s *Spool) reader(seg *segment) (*os.File, error) {
	if s.readSeg == seg {
		return s.readFile, nil
	}
	if s.readFile != nil {
		s.readFile.Close()
		s.readFile, s.readSeg = nil, nil
	}
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("opening spool segment: %w", err)
	}
	s.readFile, s.readSeg = f, seg
	return f, nil
}

// Ack acknowledges r and every record before it, removing the segments that
// hold nothing else. Once nothing is left, even the tail segment goes, so a
// drained spool leaves no files behind.
func (s *Spool) Ack(r Record) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.index < s.acked {
		return nil
	}
	s.acked = r.index + 1
	for len(s.segs) > 0 && s.segs[0] != r.seg {
		if err := s.removeHead(); err != nil {
			return err
		}
	}
	s.headOff = r.end
	drained := s.acked == s.durable && s.queued == 0
	if len(s.segs) > 1 && r.end == r.seg.size || drained {
		if drained && s.tail != nil {
			if err := s.tail.Close(); err != nil {
				return fmt.Errorf("closing spool segment: %w", err)
			}
			s.tail = nil
		}
		if err := s.removeHead(); err != nil {
			return err
		}
	}
	if s.acked == s.durable {
		s.oldest = time.Time{}
		return nil
	}
	t, err := s.readHeaderTime(s.segs[0], s.headOff)
	if err != nil {
		return err
	}
	s.oldest = t
	return nil
}

// removeHead deletes segs[0], whose records are all acknowledged.
func (s *Spool) removeHead() error {
	seg := s.segs[0]
	if s.readSeg == seg {
		s.readFile.Close()
		s.readFile, s.readSeg = nil, nil
	}
	if err := os.Remove(seg.path); err != nil {
		return fmt.Errorf("removing forwarded spool segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.bytes -= seg.size
	s.segs = s.segs[1:]
	s.headOff = 0
	return nil
}

// readHeaderTime reads the appended-at time of the record at off in seg.
func (s *Spool) readHeaderTime(seg *segment, off int64) (time.Time, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return time.Time{}, fmt.Errorf("opening spool segment: %w", err)
	}
	defer f.Close()
	var hdr [headerSize]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return time.Time{}, fmt.Errorf("reading spool segment: %w", err)
	}
	return time.UnixMilli(int64(binary.LittleEndian.Uint64(hdr[8:16]))), nil
}

// Stats returns what the spool holds now.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Bytes: s.bytes, Records: int64(s.durable - s.acked), Oldest: s.oldest, Commits: s.commits}
}

// Empty reports whether every record appended so far, and every append in
// progress, is acknowledged: the moment a producer may stop queueing behind
// the spool.
func (s *Spool) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked == s.durable && s.queued == 0
}

// Room reports whether an append of n data bytes would fit now, and the
// disk error that stopped the spool, if any.
func (s *Spool) Room(n int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return false, s.failed
	}
	return s.bytes+s.pending+headerSize+int64(n) <= s.opts.MaxBytes, nil
}

// Close stops the spool: appends still waiting get ErrClosed, the files are
// closed and the lock released. Everything already acknowledged by Append is
// on disk.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	<-s.stopped
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var errs []error
	if s.tail != nil {
		errs = append(errs, s.tail.Close())
	}
	if s.readFile != nil {
		s.readFile.Close()
	}
	errs = append(errs, s.lock.Close())
	return errors.Join(errs...)
}
