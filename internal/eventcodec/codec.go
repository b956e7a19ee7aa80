package eventcodec

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/schemas"
)

// Wire format markers.
const (
	// soeMagic starts an Avro single-object encoding, followed by the 8-byte
	// little-endian CRC-64-AVRO fingerprint of the writer schema.
	soeMagic0, soeMagic1 = 0xC3, 0x01
	soeHeaderLen         = 10
	// confluentMagic starts the Confluent framing, followed by the 4-byte
	// big-endian schema registry id of the writer schema.
	confluentMagic     = 0x00
	confluentHeaderLen = 5
)

// maxPooledBuffer bounds the encode buffers kept for reuse, so that one huge
// event does not pin its buffer for the life of the process.
const maxPooledBuffer = 64 << 10

// Codec encodes events with the embedded reftrail.ReferralEvent schema, in one
// of two framings chosen at construction: Avro single-object encoding
// (NewCodec) or Confluent framing with a registry id (NewRegistryCodec). Build
// one at start-up and share it: it is safe for concurrent use.
type Codec struct {
	schema  avro.Schema
	header  []byte // prepended to every body
	id      int    // registry id; 0 with single-object encoding
	writers sync.Pool
}

// NewCodec returns a Codec that writes Avro single-object encoding:
// 0xC3 0x01, the schema's CRC-64-AVRO fingerprint (8 bytes, little-endian),
// then the Avro binary body. Readers need the schema itself (or the fingerprint
// mapped to it), no registry.
func NewCodec() (*Codec, error) {
	s, err := currentSchema()
	if err != nil {
		return nil, err
	}
	header := binary.LittleEndian.AppendUint64([]byte{soeMagic0, soeMagic1}, s.fingerprint)
	return newCodec(s.avro, header, 0), nil
}

// NewRegistryCodec registers the embedded schema in a Confluent-compatible
// schema registry under subject and returns a Codec that writes the Confluent
// framing: 0x00, the registry's schema id (4 bytes, big-endian), then the Avro
// binary body. With the TopicNameStrategy, subject is "<EVENTS_TOPIC>-value".
//
// Registering an already registered schema returns its id without a new
// version. The registry refuses a schema that breaks the subject's
// compatibility level; that fails here, at start-up, rather than in
// subscribers.
func NewRegistryCodec(ctx context.Context, client *sr.Client, subject string) (*Codec, error) {
	s, err := currentSchema()
	if err != nil {
		return nil, err
	}
	text, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", schemaPath, err)
	}
	id, err := client.RegisterSchema(ctx, subject, sr.Schema{Schema: string(text), Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("registering schema under subject %q: %w", subject, err)
	}
	if id <= 0 || int64(id) > math.MaxUint32 {
		return nil, fmt.Errorf("registering schema under subject %q: registry returned id %d, outside the 4-byte framing", subject, id)
	}
	header := binary.BigEndian.AppendUint32([]byte{confluentMagic}, uint32(id))
	return newCodec(s.avro, header, id), nil
}

func newCodec(s avro.Schema, header []byte, id int) *Codec {
	c := &Codec{schema: s, header: header, id: id}
	c.writers.New = func() any { return avro.NewWriter(nil, 512, avro.WithWriterConfig(api)) }
	return c
}

// SchemaID returns the registry id the Codec writes, or 0 for single-object
// encoding.
func (c *Codec) SchemaID() int {
	return c.id
}

// Append appends the framed encoding of e to dst and returns the extended
// slice. With enough capacity in dst it does not allocate, so a caller that
// reuses its buffer encodes for free; the returned bytes belong to the caller.
// On error (an enum value outside the schema's symbols, such as an empty
// event.Platform) it returns dst unchanged.
func (c *Codec) Append(dst []byte, e *event.Event) ([]byte, error) {
	w := c.writers.Get().(*avro.Writer)
	defer c.putWriter(w)
	w.WriteVal(c.schema, e)
	if w.Error != nil {
		return dst, fmt.Errorf("encoding event: %w", w.Error)
	}
	dst = append(dst, c.header...)
	return append(dst, w.Buffer()...), nil
}

func (c *Codec) putWriter(w *avro.Writer) {
	if cap(w.Buffer()) > maxPooledBuffer {
		return
	}
	w.Reset(nil)
	w.Error = nil
	c.writers.Put(w)
}
