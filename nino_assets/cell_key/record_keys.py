"""Record keys: each registration's uniform integer in [0, N), the same in every run and every table.

The key is drawn from a hash of the keyed HMAC of the record's NINo (whose first 128 bits are its pseudonym), so it is
fixed for the person and unpredictable without the pseudonym key. N, the record-key range, is a
parameter shared with the disclosure stage: cell keys are sums of record keys modulo the same N.
"""

from __future__ import annotations

import hashlib

RECORD_KEY_RANGE = 4096
"""N. 4096 = 2**12, the range ONS uses for most data (256 for the Census): fine enough that a ptable row's
probabilities are met to within 1/4096, and a power of two so that the low bits of a hash are exactly uniform.
A key in [0, 4096) reduced modulo 256 is itself uniform in [0, 256), which is how the ONS 10/5 ptable is applied."""

HASH_DOMAIN = "record-key|"
"""Prefix hashed with the HMAC, so the record key is not a visible part of the pseudonym itself."""

HEX_DIGITS_USED = 15
"""The first 15 hex digits (60 bits) of the hash: fits a signed 64-bit integer in SQL, and divisible by any N."""


def record_key(nino_hmac: str, key_range: int = RECORD_KEY_RANGE) -> int:
    """A record's key from its NINo's HMAC (hex), in Python: the reference the SQL in `sql/registrations.sql` is
    tested against."""
    digest = hashlib.sha256((HASH_DOMAIN + nino_hmac).encode("utf-8")).hexdigest()
    return int(digest[:HEX_DIGITS_USED], 16) % key_range
