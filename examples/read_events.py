#!/usr/bin/python3
"""Print reftrail events read from kcat, one JSON object per line.

Usage (Debian: apt-get install kcat python3-avro):
  kcat -b BROKER -C -t reftrail.events.v1 -X isolation.level=read_committed -e -q -f '%R%s' |
    /usr/bin/python3 examples/read_events.py schemas/avro/referral_event.avsc

kcat's '%R%s' writes each value prefixed with its length (4 bytes, big-endian).
Values are Avro single-object encoded: 0xC3 0x01, the writer schema's 8-byte
little-endian CRC-64-AVRO fingerprint, then the Avro binary body.
"""
import io
import json
import struct
import sys

import avro.io
import avro.schema

# The fingerprint of schemas/avro/referral_event.avsc (Parsing Canonical Form,
# as Apache Avro Java computes it). A record with another fingerprint was
# written with another schema version: look that version up instead.
FINGERPRINT = 0x66ACCFC334DA0843


def main():
    with open(sys.argv[1]) as f:
        schema = avro.schema.parse(f.read())
    reader = avro.io.DatumReader(schema)
    stream = sys.stdin.buffer
    while True:
        size = stream.read(4)
        if len(size) < 4:
            return
        value = stream.read(struct.unpack(">i", size)[0])
        if value[:2] != b"\xc3\x01":
            sys.exit("not Avro single-object encoding (with SCHEMA_REGISTRY_URL set, values use the Confluent framing)")
        (fingerprint,) = struct.unpack("<Q", value[2:10])
        if fingerprint != FINGERPRINT:
            sys.exit("unknown writer schema fingerprint %016x" % fingerprint)
        event = reader.read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
        print(json.dumps(event, default=str, sort_keys=True))


if __name__ == "__main__":
    main()
