"""Record keys: each registration's uniform integer in [0, N), the same in every run and every table.

The key is read from the keyed HMAC of the record's NINo, from the bits after the 128 that are its pseudonym: fixed
for the person, unpredictable without the pseudonym key, and not derivable from the pseudonym stored beside it (an
HMAC's bits are independent of one another). N, the record-key range, is a parameter shared with the disclosure
stage: cell keys are sums of record keys modulo the same N.
"""

from __future__ import annotations

from nino_assets.clean.pseudonyms import PSEUDONYM_HEX_DIGITS

RECORD_KEY_RANGE = 4096
"""N. 4096 = 2**12, the range ONS uses for most data (256 for the Census): fine enough that a ptable row's
probabilities are met to within 1/4096, and a power of two so that the low bits of a hash are exactly uniform.
A key in [0, 4096) reduced modulo 256 is itself uniform in [0, 256), which is how the ONS 10/5 ptable is applied."""

FIRST_HEX_DIGIT = PSEUDONYM_HEX_DIGITS
"""The record key's hex digits start where the pseudonym's end (0-based): no bit of the key is stored in the
pseudonym. Reading them costs nothing; hashing the HMAC again cost 4 s over the whole series."""

HEX_DIGITS_USED = 15
"""15 hex digits (60 bits) of the HMAC: fits a signed 64-bit integer in SQL, and divisible by any N."""


def record_key(nino_hmac: str, key_range: int = RECORD_KEY_RANGE) -> int:
    """A record's key from its NINo's HMAC (hex), in Python: the reference the SQL in `sql/registrations.sql` is
    tested against."""
    return int(nino_hmac[FIRST_HEX_DIGIT:FIRST_HEX_DIGIT + HEX_DIGITS_USED], 16) % key_range
