"""National Insurance number format rules, and the synthetic NINos that follow them. Pure; no I/O.

A NINo is two prefix letters, six digits and a suffix letter, e.g. `AB123456C`:
- the first prefix letter is never D, F, I, Q, U or V; the second never D, F, I, O, Q, U or V;
- the prefixes BG, GB, KN, NK, NT, TN and ZZ are never allocated;
- the suffix is A, B, C or D.

Only that exact form is valid: upper case, no spaces. A NINo written with inner spaces ("AB 12 34 56 C", the way it
is printed on letters) is treated as malformed rather than normalised, because the extract contract promises NINos
"as allocated" and a spaced one shows that the record was keyed by hand somewhere upstream.
"""

from __future__ import annotations

import re
import string

import numpy as np

_FIRST_LETTERS = tuple(letter for letter in string.ascii_uppercase if letter not in "DFIQUV")
_SECOND_LETTERS = tuple(letter for letter in string.ascii_uppercase if letter not in "DFIOQUV")
NEVER_ALLOCATED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
SUFFIXES = ("A", "B", "C", "D")

VALID_PREFIXES: tuple[str, ...] = tuple(
    sorted(
        first + second
        for first in _FIRST_LETTERS
        for second in _SECOND_LETTERS
        if first + second not in NEVER_ALLOCATED_PREFIXES
    )
)


def _prefix_pattern() -> str:
    # One branch per first letter with a class of its allowed second letters: RE2 (DuckDB) has no lookahead, so the
    # excluded prefixes have to be left out of the classes rather than ruled out by a negative assertion.
    branches = []
    for first in _FIRST_LETTERS:
        seconds = "".join(prefix[1] for prefix in VALID_PREFIXES if prefix[0] == first)
        branches.append(f"{first}[{seconds}]")
    return "(?:" + "|".join(branches) + ")"


NINO_REGEX = "^" + _prefix_pattern() + "[0-9]{6}[ABCD]$"
"""The whole rule as one anchored regex, for Python `re.fullmatch` and DuckDB `regexp_full_match` alike."""

_NINO = re.compile(NINO_REGEX)

DIGITS_SPACE = 10**6
VALID_NINO_COUNT = len(VALID_PREFIXES) * DIGITS_SPACE * len(SUFFIXES)
"""How many distinct valid NINos exist: the size of the space `ninos_from_serials` permutes."""


def is_valid_nino(text: str) -> bool:
    return _NINO.fullmatch(text) is not None


# The scramble is affine -> transpose -> affine on [0, VALID_NINO_COUNT): each step is a bijection, so the whole is,
# and consecutive serials land far apart in every part of the NINo (one affine step alone leaves a visible stride).
# VALID_NINO_COUNT = 373 * 2**8 * 5**6, so the multipliers are primes other than 2, 5 and 373.
_MULTIPLIER_1, _OFFSET_1 = 982_451_653, 327_680_113
_MULTIPLIER_2, _OFFSET_2 = 694_847_539, 1_018_472_279
_TRANSPOSE_ROWS = len(VALID_PREFIXES) * len(SUFFIXES)  # VALID_NINO_COUNT = _TRANSPOSE_ROWS * DIGITS_SPACE


def _scramble(serials: np.ndarray) -> np.ndarray:
    # Every product stays below 1.5e18, inside int64.
    value = (serials * _MULTIPLIER_1 + _OFFSET_1) % VALID_NINO_COUNT
    value = (value % DIGITS_SPACE) * _TRANSPOSE_ROWS + value // DIGITS_SPACE
    return (value * _MULTIPLIER_2 + _OFFSET_2) % VALID_NINO_COUNT


_PREFIX_BYTES = np.frombuffer("".join(VALID_PREFIXES).encode("ascii"), dtype=np.uint8).reshape(-1, 2)
_SUFFIX_BYTES = np.frombuffer("".join(SUFFIXES).encode("ascii"), dtype=np.uint8)


def ninos_from_serials(serials: np.ndarray) -> np.ndarray:
    """Valid NINos for serial numbers in [0, VALID_NINO_COUNT): distinct serials give distinct NINos (a bijection).

    Returns a numpy unicode array ('<U9') of the same length. Deterministic: the same serial always gives the same NINo.
    """
    serials = np.asarray(serials, dtype=np.int64)
    if serials.size and (serials.min() < 0 or serials.max() >= VALID_NINO_COUNT):
        raise ValueError(f"NINo serials must lie in [0, {VALID_NINO_COUNT})")
    value = _scramble(serials)
    suffix = value % len(SUFFIXES)
    value //= len(SUFFIXES)
    digits = value % DIGITS_SPACE
    prefix = value // DIGITS_SPACE
    chars = np.empty((serials.size, 9), dtype=np.uint8)
    chars[:, :2] = _PREFIX_BYTES[prefix]
    for position in range(6):
        chars[:, 7 - position] = ord("0") + digits % 10
        digits //= 10
    chars[:, 8] = _SUFFIX_BYTES[suffix]
    return chars.view("S9").ravel().astype("U9")


_BAD_FIRST = tuple("DFIQUV")
_BAD_SECOND = tuple("DFIOQUV")
_MALFORMED_KINDS = (
    "disallowed_first_letter",
    "disallowed_second_letter",
    "never_allocated_prefix",
    "lower_case",
    "five_digits",
    "seven_digits",
    "suffix_e",
    "missing_suffix",
    "inner_spaces",
)


def malformed_ninos(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` NINos of the kinds keying and legacy systems produce, none of them valid (see the module docstring).

    Kinds, drawn uniformly: a disallowed first or second prefix letter, a never-allocated prefix, lower case,
    five or seven digits, suffix E, no suffix, the printed form with inner spaces.
    """
    valid = ninos_from_serials(rng.integers(0, VALID_NINO_COUNT, size=n))
    kinds = rng.integers(0, len(_MALFORMED_KINDS), size=n)
    out = []
    for nino, kind in zip(valid.tolist(), kinds.tolist()):
        name = _MALFORMED_KINDS[kind]
        if name == "disallowed_first_letter":
            nino = _BAD_FIRST[rng.integers(len(_BAD_FIRST))] + nino[1:]
        elif name == "disallowed_second_letter":
            nino = nino[0] + _BAD_SECOND[rng.integers(len(_BAD_SECOND))] + nino[2:]
        elif name == "never_allocated_prefix":
            nino = sorted(NEVER_ALLOCATED_PREFIXES)[rng.integers(len(NEVER_ALLOCATED_PREFIXES))] + nino[2:]
        elif name == "lower_case":
            nino = nino.lower()
        elif name == "five_digits":
            nino = nino[:7] + nino[8:]
        elif name == "seven_digits":
            nino = nino[:8] + str(rng.integers(10)) + nino[8:]
        elif name == "suffix_e":
            nino = nino[:8] + "E"
        elif name == "missing_suffix":
            nino = nino[:8]
        else:
            nino = f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8]}"
        out.append(nino)
    return np.array(out, dtype="U16")
