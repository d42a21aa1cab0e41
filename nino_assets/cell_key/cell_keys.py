"""Cell keys: a cell's key is the sum of its records' keys modulo N, so the same records give the same key in any
order and in any table. The Python reference for the SQL `sum(record_key) % N`; an empty cell's key is 0.

A key range N that divides the record keys' range (256 divides 4096) leaves the cell keys uniform in [0, N): that is
how a ptable with a smaller N, such as the ONS 10/5 table, is applied to the project's record keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE


def cell_key(record_keys: Iterable[int], key_range: int = RECORD_KEY_RANGE) -> int:
    """The cell key of the records with these keys."""
    if key_range < 1:
        raise ValueError(f"key_range must be at least 1, not {key_range}")
    return sum(record_keys) % key_range
