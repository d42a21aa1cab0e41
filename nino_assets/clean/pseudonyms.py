"""Pseudonymisation of the NINo: a keyed HMAC-SHA256, computed inside DuckDB so that no NINo leaves the warehouse.

The key comes from the environment variable `NINO_PSEUDONYM_KEY`, or from the file `NINO_PSEUDONYM_KEY_FILE` names.
Without it a clearly marked development key is
used, and the run log says so: pseudonyms made with a key that is in this repository protect nothing.
A pseudonym cannot be turned back into a NINo without the key; with the key, the same NINo always gives the same
pseudonym, which is what makes de-duplication across quarters and stable record keys possible.

The pseudonym stored is the HMAC's first 128 bits as one unsigned number (UHUGEINT): a truncation RFC 2104 allows
(at least half the output), with no collision to expect among billions of people, and a key DuckDB compares, groups
and stores at a fraction of the cost of 64 hex characters. The record key is read from the HMAC's next 60 bits
(`cell_key.record_keys`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from nino_assets.shared.secrets import read_secret

KEY_VARIABLE = "NINO_PSEUDONYM_KEY"
DEVELOPMENT_KEY = "nino-stats DEVELOPMENT pseudonym key - not for production data"
_BLOCK_SIZE = 64  # SHA-256's block size in bytes, as HMAC (RFC 2104) pads the key to it
PSEUDONYM_HEX_DIGITS = 32
"""The HMAC's leading hex digits kept as the pseudonym: 128 bits."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    is_development_key: bool

    @classmethod
    def from_environment(cls) -> PseudonymKey:
        secret = read_secret(KEY_VARIABLE)
        if secret:
            return cls(secret.encode("utf-8"), is_development_key=False)
        return cls(DEVELOPMENT_KEY.encode("utf-8"), is_development_key=True)

    def sql_parameters(self) -> dict[str, bytes]:
        """The HMAC's inner and outer padded keys (RFC 2104), for the SQL that computes pseudonyms set-wise."""
        key = self.secret if len(self.secret) <= _BLOCK_SIZE else hashlib.sha256(self.secret).digest()
        key = key.ljust(_BLOCK_SIZE, b"\0")
        return {
            "hmac_inner_key": bytes(byte ^ 0x36 for byte in key),
            "hmac_outer_key": bytes(byte ^ 0x5C for byte in key),
        }

    def nino_hmac(self, nino: str) -> str:
        """HMAC-SHA256 of one (valid) NINo, in hex, in Python: the reference the SQL is tested against."""
        return hmac.new(self.secret, nino.encode("utf-8"), hashlib.sha256).hexdigest()

    def pseudonym(self, nino: str) -> int:
        """The pseudonym stored for one (valid) NINo: its HMAC's first 128 bits."""
        return int(self.nino_hmac(nino)[:PSEUDONYM_HEX_DIGITS], 16)
