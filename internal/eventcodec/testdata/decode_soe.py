"""Decode Avro single-object encodings with python3-avro, for package event's
integration tests.

Usage: /usr/bin/python3 decode_soe.py SCHEMA MESSAGE...

For each MESSAGE file: checks the 0xC3 0x01 marker, checks that the 8-byte
little-endian fingerprint is the CRC-64-AVRO of SCHEMA's Parsing Canonical
Form, decodes the body with avro.io and checks that it used every byte, then
prints the record as one JSON line (timestamp-millis fields as Unix ms).
Fails with a message on stderr otherwise.
"""

import datetime
import io
import json
import struct
import sys

import avro.io
import avro.schema

EMPTY = 0xC15D213AA4D7A795
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _fp_table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return table


FP_TABLE = _fp_table()


def fingerprint64(data):
    """CRC-64-AVRO, as the Avro specification writes it."""
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ FP_TABLE[(fp ^ b) & 0xFF]
    return fp


def _bare_primitives(v):
    # python3-avro 1.11 writes a primitive with attributes (a logicalType)
    # as {"type":"long"}; the specification wants "long". No other canonical
    # object has "type" as its only key.
    if isinstance(v, dict):
        if list(v) == ["type"] and isinstance(v["type"], str):
            return v["type"]
        return {k: _bare_primitives(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_bare_primitives(x) for x in v]
    return v


def canonical_form(schema):
    return json.dumps(_bare_primitives(json.loads(schema.canonical_form)), separators=(",", ":"))


def _plain(v):
    if isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def main(argv):
    with open(argv[1], "rb") as f:
        schema = avro.schema.parse(f.read().decode("utf-8"))
    want_fp = fingerprint64(canonical_form(schema).encode("utf-8"))
    reader = avro.io.DatumReader(schema)
    for path in argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] != b"\xc3\x01":
            sys.exit(f"{path}: marker {data[:2].hex()}, want c301")
        (got_fp,) = struct.unpack("<Q", data[2:10])
        if got_fp != want_fp:
            sys.exit(f"{path}: fingerprint {got_fp:016x}, want {want_fp:016x}")
        body = io.BytesIO(data[10:])
        record = reader.read(avro.io.BinaryDecoder(body))
        if body.tell() != len(data) - 10:
            sys.exit(f"{path}: {len(data) - 10 - body.tell()} bytes left after the record")
        print(json.dumps(_plain(record)))


if __name__ == "__main__":
    main(sys.argv)
