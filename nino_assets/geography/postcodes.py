"""Postcodes as geocoding matches them, and the two areas that are not places in the UK. Pure; no I/O."""

from __future__ import annotations

UK_POSTCODE_REGEX = "^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
"""A postcode in matching form (upper case, no spaces): outward code (area, district) then inward code (sector,
unit), e.g. SW1A1AA, M11AE, B337HJ."""

OVERSEAS_CODE = "OVERSEAS"
"""Geography code of "Overseas registration": an address abroad at registration. Shown as its own row."""

UNKNOWN_CODE = "UNKNOWN"
"""Geography code of "Unknown": no postcode, a malformed one, or one not in the lookup. Shown as its own row."""

AREA_NAMES = {OVERSEAS_CODE: "Overseas registration", UNKNOWN_CODE: "Unknown"}

