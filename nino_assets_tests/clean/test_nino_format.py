"""NINo format rules, the serial -> NINo bijection and the malformed NINos."""

from __future__ import annotations

import re
import string

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nino_assets.clean import nino_format
from nino_assets.clean.nino_format import (
    NINO_REGEX,
    VALID_NINO_COUNT,
    VALID_PREFIXES,
    is_valid_nino,
    malformed_ninos,
    ninos_from_serials,
)

LETTERS = string.ascii_uppercase
NEVER_ALLOCATED = ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")


def test_valid_prefixes_follow_the_letter_rules_exactly():
    expected = sorted(
        a + b
        for a in LETTERS
        for b in LETTERS
        if a not in "DFIQUV" and b not in "DFIOQUV" and a + b not in NEVER_ALLOCATED
    )
    assert list(VALID_PREFIXES) == expected
    assert len(VALID_PREFIXES) == 20 * 19 - 7


@pytest.mark.parametrize("letter", list("DFIQUV"))
def test_first_letter_exclusions(letter):
    assert not is_valid_nino(f"{letter}A123456A")
    assert is_valid_nino("AA123456A")


@pytest.mark.parametrize("letter", list("DFIOQUV"))
def test_second_letter_exclusions(letter):
    assert not is_valid_nino(f"A{letter}123456A")


def test_first_letter_o_is_allowed_but_not_as_second():
    assert is_valid_nino("OA123456A")
    assert not is_valid_nino("AO123456A")


@pytest.mark.parametrize("prefix", NEVER_ALLOCATED)
def test_never_allocated_prefixes(prefix):
    assert not is_valid_nino(f"{prefix}123456A")


@pytest.mark.parametrize("suffix", list(LETTERS))
def test_suffix_is_a_to_d(suffix):
    assert is_valid_nino(f"AB123456{suffix}") == (suffix in "ABCD")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AB12345A",  # five digits
        "AB1234567A",  # seven digits
        "AB123456",  # no suffix
        "ab123456c",  # lower case
        "Ab123456C",
        "AB 12 34 56 C",  # printed form: treated as malformed, not normalised
        " AB123456C",
        "AB123456C ",
        "AB123456C\n",
        "AB12345XC",
        "A1123456C",
    ],
)
def test_malformed_shapes(text):
    assert not is_valid_nino(text)


def _sample_strings(rng: np.random.Generator) -> list[str]:
    valid = ninos_from_serials(rng.integers(0, VALID_NINO_COUNT, size=500)).tolist()
    every_prefix = [a + b + "123456" + s for a in LETTERS for b in LETTERS for s in "ADE"]
    near_misses = ["".join(rng.choice(list(LETTERS + string.digits), size=9)) for _ in range(500)]

    def shaped() -> str:
        letters, digits = list(LETTERS), list(string.digits)
        return "".join(rng.choice(letters, size=2)) + "".join(rng.choice(digits, size=6)) + rng.choice(letters)

    return (
        valid
        + every_prefix
        + near_misses
        + [shaped() for _ in range(2000)]
        + malformed_ninos(rng, 500).tolist()
        + ["", "AB123456C\n"]
    )


def test_regex_means_the_same_in_python_and_duckdb():
    samples = _sample_strings(np.random.default_rng(7))
    connection = duckdb.connect()
    connection.execute("CREATE TABLE s (i INTEGER, t VARCHAR)")
    connection.executemany("INSERT INTO s VALUES (?, ?)", list(enumerate(samples)))
    in_duckdb = dict(connection.execute("SELECT i, regexp_full_match(t, ?) FROM s", [NINO_REGEX]).fetchall())
    in_python = {i: re.fullmatch(NINO_REGEX, text) is not None for i, text in enumerate(samples)}
    assert in_duckdb == in_python
    assert 0 < sum(in_python.values()) < len(samples)  # the sample really has both kinds
    assert all(is_valid_nino(text) == in_python[i] for i, text in enumerate(samples))


def test_serials_give_distinct_valid_ninos_over_a_large_range():
    ninos = ninos_from_serials(np.arange(2_000_000))
    assert len(set(ninos.tolist())) == ninos.size
    pattern = re.compile(NINO_REGEX)
    assert all(pattern.fullmatch(nino) for nino in ninos.tolist())
    # Scrambled: consecutive serials do not give consecutive numbers or a shared prefix.
    assert len({nino[:2] for nino in ninos[:100].tolist()}) > 50


def test_serials_at_the_ends_of_the_space_and_beyond():
    ends = ninos_from_serials(np.array([0, VALID_NINO_COUNT - 1]))
    assert all(is_valid_nino(nino) for nino in ends.tolist())
    assert ends[0] != ends[1]
    with pytest.raises(ValueError):
        ninos_from_serials(np.array([VALID_NINO_COUNT]))
    with pytest.raises(ValueError):
        ninos_from_serials(np.array([-1]))


def _serial_of(nino: str) -> int:
    """Invert the scramble step by step: a left inverse on the whole space proves the map is a bijection."""
    n = VALID_NINO_COUNT
    value = (VALID_PREFIXES.index(nino[:2]) * 10**6 + int(nino[2:8])) * 4 + "ABCD".index(nino[8])
    value = (value - nino_format._OFFSET_2) * pow(nino_format._MULTIPLIER_2, -1, n) % n
    rows = nino_format._TRANSPOSE_ROWS
    value = (value % rows) * nino_format.DIGITS_SPACE + value // rows
    return (value - nino_format._OFFSET_1) * pow(nino_format._MULTIPLIER_1, -1, n) % n


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=VALID_NINO_COUNT - 1), min_size=1, max_size=50))
def test_every_serial_in_the_space_round_trips(serials):
    ninos = ninos_from_serials(np.array(serials, dtype=np.int64)).tolist()
    assert [_serial_of(nino) for nino in ninos] == serials


def test_ninos_are_deterministic():
    serials = np.array([5, 17, 123_456_789])
    assert ninos_from_serials(serials).tolist() == ninos_from_serials(serials).tolist()


def test_malformed_ninos_are_all_invalid_and_varied():
    malformed = malformed_ninos(np.random.default_rng(3), 2000).tolist()
    assert not any(is_valid_nino(text) for text in malformed)
    assert not any("|" in text for text in malformed)
    assert any(text != text.upper() for text in malformed)  # lower case
    assert any(" " in text for text in malformed)  # printed form
    assert any(len(text) == 8 for text in malformed)  # five digits, or no suffix
    assert any(text.endswith("E") for text in malformed)
    assert any(text[:2] in NEVER_ALLOCATED for text in malformed)
    assert malformed == malformed_ninos(np.random.default_rng(3), 2000).tolist()
