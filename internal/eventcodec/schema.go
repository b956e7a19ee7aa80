package eventcodec

import (
	"fmt"
	"io/fs"

	"github.com/hamba/avro/v2"

	"github.com/reftrail/reftrail/schemas"
)

// Paths of the event schema and its released versions in schemas.Avro.
const (
	schemaPath  = "avro/referral_event.avsc"
	historyGlob = "avro/history/referral_event.v*.avsc"
)

// api is the hamba configuration every codec and decoder shares, so that the
// encoders and decoders it builds per schema are built once per process.
var api = avro.Config{}.Freeze()

// schema is a parsed Avro schema with its specification fingerprint.
type schema struct {
	avro        avro.Schema
	fingerprint uint64 // CRC-64-AVRO of the Parsing Canonical Form
}

// parseSchema parses an Avro schema text and fingerprints it. Each schema gets
// its own name cache: versions of one schema define the same names, and
// hamba's default cache is global.
func parseSchema(text []byte) (schema, error) {
	canonical, err := CanonicalForm(text)
	if err != nil {
		return schema{}, err
	}
	s, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return schema{}, fmt.Errorf("parsing schema: %w", err)
	}
	return schema{avro: s, fingerprint: Fingerprint64(canonical)}, nil
}

// currentSchema parses the embedded reftrail.ReferralEvent, the schema every
// event is written with.
func currentSchema() (schema, error) {
	text, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		return schema{}, fmt.Errorf("reading %s: %w", schemaPath, err)
	}
	s, err := parseSchema(text)
	if err != nil {
		return schema{}, fmt.Errorf("loading %s: %w", schemaPath, err)
	}
	return s, nil
}

// historySchemas parses every released version of the event schema.
func historySchemas() (map[string]schema, error) {
	paths, err := fs.Glob(schemas.Avro, historyGlob)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", historyGlob, err)
	}
	out := make(map[string]schema, len(paths))
	for _, p := range paths {
		text, err := schemas.Avro.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if out[p], err = parseSchema(text); err != nil {
			return nil, fmt.Errorf("loading %s: %w", p, err)
		}
	}
	return out, nil
}

// readSchema returns the schema that reads data written with writer into an
// event.Event described by reader: reader itself when both have the same canonical
// form, else hamba's resolution of the two. It fails when reader cannot read
// what writer wrote (a field without default missing from writer, a type that
// does not promote, an enum symbol reader lacks, ...).
func readSchema(reader, writer schema) (avro.Schema, error) {
	if reader.fingerprint == writer.fingerprint {
		return reader.avro, nil
	}
	resolved, err := avro.NewSchemaCompatibility().Resolve(reader.avro, writer.avro)
	if err != nil {
		return nil, fmt.Errorf("resolving writer schema %#016x: %w", writer.fingerprint, err)
	}
	return resolved, nil
}
