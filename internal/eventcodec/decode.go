package eventcodec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/reftrail/reftrail/internal/event"
)

// Errors Decode wraps, for callers that route bad records (to a dead-letter
// topic) and retry the rest. An error that wraps neither, such as an
// unreachable registry, is transient.
var (
	// ErrMalformed means the bytes are not a framed event: unknown magic byte,
	// truncated header or body, trailing bytes.
	ErrMalformed = errors.New("malformed event")
	// ErrUnknownSchema means the writer schema is unknown (single-object
	// fingerprint not among the released versions, id not in the registry,
	// Confluent framing without a registry) or cannot be read into an event.Event.
	ErrUnknownSchema = errors.New("unknown writer schema")
	// ErrSchemaNotRegistered is the one ErrUnknownSchema that may pass: the
	// registry does not know the Confluent schema id (yet: a registry replica
	// may lag the one the writer registered with). Errors wrapping it wrap
	// ErrUnknownSchema too.
	ErrSchemaNotRegistered = errors.New("schema id not in the registry")
)

// Decoder reads events in both wire formats: Avro single-object encoding with
// the fingerprint of any released version of the schema (schemas/avro/history),
// and the Confluent framing, whose writer schema it fetches from the registry
// once per id. Data written with another version of the schema is resolved to
// the current one (fields added with defaults, fields removed, promotions).
// Build one at start-up and share it: it is safe for concurrent use.
type Decoder struct {
	reader schema
	bySOE  map[uint64]avro.Schema // writer fingerprint → schema to decode with
	reg    *sr.Client             // nil: Confluent framing is refused

	mu   sync.RWMutex
	byID map[int]idSchema // registry id → schema to decode with, or why not

	readers sync.Pool
	// fast is set when the current schema is the one readCurrent reads.
	fast bool
}

// idSchema is the outcome of resolving a registry id. Only outcomes that will
// not change are cached: a schema, or a schema that cannot be read. Failures to
// reach the registry are not.
type idSchema struct {
	schema avro.Schema
	err    error
}

// NewDecoder returns a Decoder. reg may be nil when no registry is configured;
// the Decoder then reads single-object encoding only. It fails if a released
// version of the schema cannot be read into the current one.
func NewDecoder(reg *sr.Client) (*Decoder, error) {
	cur, err := currentSchema()
	if err != nil {
		return nil, err
	}
	history, err := historySchemas()
	if err != nil {
		return nil, err
	}
	d := &Decoder{
		reader: cur,
		bySOE:  map[uint64]avro.Schema{cur.fingerprint: cur.avro},
		reg:    reg,
		byID:   make(map[int]idSchema),
		fast:   cur.fingerprint == fastFingerprint,
	}
	for path, w := range history {
		if d.bySOE[w.fingerprint], err = readSchema(cur, w); err != nil {
			return nil, fmt.Errorf("reading %s with the current schema: %w", path, err)
		}
	}
	d.readers.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(api)) }
	return d, nil
}

// Decode reads one framed event from b into e, replacing all of e. ctx bounds
// the registry request made the first time a Confluent schema id is seen;
// other calls do not block. The strings in e do not alias b. On error, e
// holds no meaningful value.
func (d *Decoder) Decode(ctx context.Context, b []byte, e *event.Event) error {
	var (
		s    avro.Schema
		body []byte
	)
	switch {
	case len(b) >= 2 && b[0] == soeMagic0 && b[1] == soeMagic1:
		if len(b) < soeHeaderLen {
			return fmt.Errorf("%w: single-object header of %d bytes, want %d", ErrMalformed, len(b), soeHeaderLen)
		}
		fp := binary.LittleEndian.Uint64(b[2:soeHeaderLen])
		if d.fast && fp == fastFingerprint && readCurrent(b[soeHeaderLen:], e) {
			return nil
		}
		var ok bool
		if s, ok = d.bySOE[fp]; !ok {
			return fmt.Errorf("%w: single-object fingerprint %#016x is no released version of %s", ErrUnknownSchema, fp, schemaPath)
		}
		body = b[soeHeaderLen:]
	case len(b) >= 1 && b[0] == confluentMagic:
		if len(b) < confluentHeaderLen {
			return fmt.Errorf("%w: Confluent header of %d bytes, want %d", ErrMalformed, len(b), confluentHeaderLen)
		}
		var err error
		if s, err = d.schemaByID(ctx, int(binary.BigEndian.Uint32(b[1:confluentHeaderLen]))); err != nil {
			return err
		}
		body = b[confluentHeaderLen:]
	case len(b) == 0:
		return fmt.Errorf("%w: empty", ErrMalformed)
	default:
		return fmt.Errorf("%w: magic byte %#02x is neither single-object encoding (0xc3 0x01) nor Confluent framing (0x00)", ErrMalformed, b[0])
	}

	*e = event.Event{}
	r := d.readers.Get().(*avro.Reader)
	defer d.putReader(r)
	r.Reset(body)
	r.ReadVal(s, e)
	// Any error, io.EOF included: a body cut short ends in io.EOF, which
	// hamba's own Unmarshal ignores (v2.31 returns nil and a half-filled value).
	if r.Error != nil {
		return fmt.Errorf("%w: decoding body: %w", ErrMalformed, r.Error)
	}
	// Peek sets r.Error (io.EOF) at the end of the body. Bytes left over are a
	// sign of a wrong schema id or a corrupt record.
	if r.Peek(); r.Error == nil {
		return fmt.Errorf("%w: trailing bytes after the event", ErrMalformed)
	}
	return nil
}

func (d *Decoder) putReader(r *avro.Reader) {
	r.Reset(nil)
	r.Error = nil
	d.readers.Put(r)
}

// schemaByID returns the schema that reads data written with registry id id,
// fetching the writer schema on first use.
func (d *Decoder) schemaByID(ctx context.Context, id int) (avro.Schema, error) {
	if d.reg == nil {
		return nil, fmt.Errorf("%w: Confluent schema id %d but no schema registry is configured", ErrUnknownSchema, id)
	}
	d.mu.RLock()
	cached, ok := d.byID[id]
	d.mu.RUnlock()
	if ok {
		return cached.schema, cached.err
	}

	got, err := d.reg.SchemaByID(ctx, id)
	if err != nil {
		if re := (*sr.ResponseError)(nil); errors.As(err, &re) && re.ErrorCode == sr.ErrSchemaNotFound.Code {
			// Not cached: a registry replica may learn the id later.
			return nil, fmt.Errorf("%w: %w: %d", ErrUnknownSchema, ErrSchemaNotRegistered, id)
		}
		return nil, fmt.Errorf("fetching schema id %d: %w", id, err)
	}
	cached = d.resolveRegistered(id, got)
	d.mu.Lock()
	d.byID[id] = cached
	d.mu.Unlock()
	return cached.schema, cached.err
}

func (d *Decoder) resolveRegistered(id int, got sr.Schema) idSchema {
	switch {
	case got.Type != sr.TypeAvro:
		return idSchema{err: fmt.Errorf("%w: schema id %d is %s, not Avro", ErrUnknownSchema, id, got.Type)}
	case len(got.References) > 0:
		return idSchema{err: fmt.Errorf("%w: schema id %d has references, which reftrail does not resolve", ErrUnknownSchema, id)}
	}
	w, err := parseSchema([]byte(got.Schema))
	if err != nil {
		return idSchema{err: fmt.Errorf("%w: schema id %d: %w", ErrUnknownSchema, id, err)}
	}
	s, err := readSchema(d.reader, w)
	if err != nil {
		return idSchema{err: fmt.Errorf("%w: schema id %d: %w", ErrUnknownSchema, id, err)}
	}
	return idSchema{schema: s}
}
