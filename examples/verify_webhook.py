#!/usr/bin/python3
"""Verify a reftrail notify webhook (Standard Webhooks signature), standard library only.

Usage: verify_webhook.py [--at UNIX_SECONDS] WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < body
with NOTIFY_SECRET (whsec_...) in the environment. Exits 0 when the signature is valid.
"""
import base64
import hashlib
import hmac
import os
import sys
import time

TOLERANCE_SECONDS = 300  # refuse replays of old deliveries


def verify(secret, msg_id, timestamp, signatures, body, now=None):
    """Return True when one v1 signature in `signatures` signs id.timestamp.body."""
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for sig in signatures.split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return True
    return False


if __name__ == "__main__":
    args = sys.argv[1:]
    at = None
    if args[:1] == ["--at"]:
        at, args = int(args[1]), args[2:]
    ok = verify(os.environ["NOTIFY_SECRET"], *args, sys.stdin.buffer.read(), now=at)
    print("valid" if ok else "invalid")
    sys.exit(0 if ok else 1)
