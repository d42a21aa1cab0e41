"""Properties of the cell key method, end to end: record keys -> cell key -> perturbed value, over generated ptables.

Key-space tolerance. A row's keys are shared out by its cumulative bounds ub_j (the running sums P_j of the
probabilities, rounded to 8 digits): key k in [0, N) takes the first j with k / N < ub_j, so the realised cumulative
share is Q_j = ceil(N ub_j) / N, and e_j = Q_j - P_j lies within delta = 1/N + 1e-8 (the last e is 0). Summing by
parts, the realised minus the intended E f(v) is -sum_j e_j (f(v_j+1) - f(v_j)), at most delta times the total
variation of f over the ascending noises: at most 2D for f(v) = v and vmin^2 + vmax^2 <= 2D^2 for f(v) = v^2. Hence
|mean| <= 2D delta and |variance - intended| <= 2D^2 delta + (2D delta)^2 (the second term for the squared mean).
"""

from __future__ import annotations

import functools
import random
from collections import defaultdict

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nino_assets.cell_key.cell_keys import cell_key
from nino_assets.cell_key.ptable import (
    DEFAULT_PTABLE_PARAMETERS,
    Ptable,
    PtableParameters,
    generate_ptable,
    load_ons_ptable,
)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


def least_variance(js: int) -> int:
    """Rows 1..js must move to 0 or past js: an unbiased row i has variance at least i * (js + 1 - i)."""
    return max((i * (js + 1 - i) for i in range(1, js + 1)), default=0)


@st.composite
def parameters(draw) -> PtableParameters:
    d = draw(st.integers(1, 5))
    js = draw(st.integers(0, min(4, d)))
    # From the least V the blocking allows (the boundary itself included) to above D^2, where every row is capped.
    v = draw(st.floats(min_value=max(least_variance(js), 0.05), max_value=d * d + 1.0))
    n = draw(st.sampled_from([256, 1024, 4096]))
    return PtableParameters(max_perturbation=d, variance=v, smallest_published=js, record_key_range=n)


ptable_for = functools.lru_cache(maxsize=None)(generate_ptable)


def expected_noises(i: int, params: PtableParameters) -> list[int]:
    if i == 0:
        return [0]
    d, js = params.max_perturbation, params.smallest_published
    return [j - i for j in range(max(i - d, 0), i + d + 1) if j == 0 or j > js]


@PROPERTY_SETTINGS
@given(parameters())
def test_every_row_is_unbiased_with_variance_v_or_the_widest_it_can_reach(params):
    table = ptable_for(params)
    d, n = params.max_perturbation, params.record_key_range
    delta = 1 / n + 1e-8
    assert table.max_pcv == params.ncat and table.repeat_period == 1
    for row in table.rows:
        noises, p = np.array(row.noises), np.array(row.probabilities)
        assert row.noises == tuple(expected_noises(row.pcv, params))
        reach = -noises.min() * noises.max() if noises.min() < 0 < noises.max() else 0
        intended = min(params.variance, reach)
        assert p.min() >= 0 and p.sum() == pytest.approx(1, abs=1e-9)
        assert p @ noises == pytest.approx(0, abs=1e-9)
        assert p @ noises**2 == pytest.approx(intended, abs=1e-9)
        assert sum(row.key_counts) == n
        assert abs(row.mean) <= 2 * d * delta
        assert abs(row.variance - intended) <= 2 * d * d * delta + (2 * d * delta) ** 2


@PROPERTY_SETTINGS
@given(parameters())
def test_lookup_covers_every_pcv_and_cell_key_once(params):
    table = ptable_for(params)
    frame = table.lookup_frame()
    assert frame.height == (params.ncat + 1) * params.record_key_range
    assert frame.select("pcv", "ckey").n_unique() == frame.height
    assert (frame["pcv"].min(), frame["pcv"].max()) == (0, params.ncat)
    assert (frame["ckey"].min(), frame["ckey"].max()) == (0, params.record_key_range - 1)
    assert (table.noise[frame["pcv"], frame["ckey"]] == frame["pvalue"].to_numpy()).all()


def assert_publishable(table: Ptable, params: PtableParameters, value: int, key: int) -> None:
    published = table.perturb(value, key)
    if value == 0:
        assert published == 0
    assert published >= 0
    assert not 1 <= published <= params.smallest_published
    assert abs(published - value) <= params.max_perturbation


@PROPERTY_SETTINGS
@given(parameters(), st.data())
def test_any_cell_value_and_key_gives_a_publishable_value(params, data):
    table = ptable_for(params)
    for _ in range(50):
        value = data.draw(st.one_of(st.integers(0, params.ncat + 2), st.integers(0, 10**9)))
        key = data.draw(st.integers(0, params.record_key_range - 1))
        assert_publishable(table, params, value, key)


@st.composite
def microdata(draw) -> tuple[PtableParameters, list[tuple[int, int, int]]]:
    """Records (record key, region, sex); small enough that some cells are empty or near the blocked values."""
    params = draw(parameters())
    record = st.tuples(st.integers(0, params.record_key_range - 1), st.integers(0, 3), st.integers(0, 1))
    return params, draw(st.lists(record, max_size=300))


def perturbed_table(table: Ptable, records, cells_of) -> dict:
    """A table of counts, perturbed: each cell (a record is in each cell `cells_of` names: a breakdown and its
    totals) from its own records' keys. Categories absent from the data are absent here: empty cells."""
    cells = defaultdict(list)
    for record in records:
        for cell in cells_of(record):
            cells[cell].append(record[0])
    return {cell: table.perturb(len(keys), cell_key(keys, table.key_range)) for cell, keys in cells.items()}


@PROPERTY_SETTINGS
@given(microdata(), st.randoms(use_true_random=False))
def test_same_records_give_the_same_value_in_any_order_and_any_table(data, rng: random.Random):
    params, records = data
    table = ptable_for(params)
    shuffled = rng.sample(records, len(records))

    # The region totals and the grand total appear in both tables; the second is built from the records in
    # another order.
    by_region = perturbed_table(table, records, lambda r: [r[1], "all"])
    by_region_and_sex = perturbed_table(table, shuffled, lambda r: [(r[1], r[2]), (r[1], "all"), ("all", "all")])
    for region, value in by_region.items():
        assert by_region_and_sex[(region, "all")] == value
    assert by_region.get("all") == by_region_and_sex.get(("all", "all"))

    for region in range(4):
        keys = [r[0] for r in records if r[1] == region]
        assert cell_key(keys, table.key_range) == cell_key(rng.sample(keys, len(keys)), table.key_range)
        assert_publishable(table, params, len(keys), cell_key(keys, table.key_range))
        assert by_region.get(region, 0) == table.perturb(len(keys), cell_key(keys, table.key_range))
    for value in by_region_and_sex.values():
        assert value == 0 or value > params.smallest_published
    assert table.perturb(0, cell_key([], table.key_range)) == 0


@given(st.lists(st.integers(0, 4095), max_size=50))
def test_cell_key_is_the_sum_modulo_n_and_reduces_to_a_smaller_n(keys):
    assert cell_key(keys) == sum(keys) % 4096
    assert cell_key(keys, 256) == cell_key(keys) % 256  # how a 256-key ptable applies to 4096-range record keys


def random_ons_layout_table(rng: np.random.Generator) -> pl.DataFrame:
    """A table in the ONS layout and shape (750 rows of 256 keys), with random noise from row 10 on."""
    pcv, ckey = np.meshgrid(np.arange(1, 751), np.arange(256), indexing="ij")
    pvalue = np.where(pcv < 10, -pcv, rng.integers(-2, 3, pcv.shape))
    return pl.DataFrame({"pcv": pcv.ravel(), "ckey": ckey.ravel(), "pvalue": pvalue.ravel()})


def test_sql_join_on_the_lookup_matches_the_python_reference(tmp_path):
    """The contract the SQL engine relies on: sum(record_key) % N, the pcv expression and a join on (pcv, ckey)."""
    rng = np.random.default_rng(2024)
    sizes = [1, 2, 3, 4, 5, 6, 7, 9, 10, 14, 100, 750, 751, 1000, 1001, 2600]
    records = pl.DataFrame(
        {
            "cell": np.repeat(np.arange(len(sizes)), sizes),
            "record_key": rng.integers(0, 4096, sum(sizes)),
        }
    )
    ons_layout = random_ons_layout_table(rng)
    ons_layout.write_csv(tmp_path / "ptable.csv")
    ons_layout_table = load_ons_ptable(tmp_path / "ptable.csv")
    for table in (generate_ptable(DEFAULT_PTABLE_PARAMETERS), ons_layout_table):
        n = table.key_range
        lookup = table.lookup_frame()  # noqa: F841 (read by name in the SQL: DuckDB scans Python frames)
        got = duckdb.sql(
            f"""
            WITH cells AS (
                SELECT cell, count(*) AS value, sum(record_key) % {n} AS ckey FROM records GROUP BY cell
            )
            SELECT cell, value + lookup.pvalue FROM cells
            JOIN lookup ON lookup.pcv = {table.pcv_sql('cells.value')} AND lookup.ckey = cells.ckey
            ORDER BY cell
            """
        ).fetchall()
        expected = [
            (cell, table.perturb(len(keys), cell_key(keys, n)))
            for cell, keys in sorted(records.group_by("cell").agg("record_key").iter_rows())
        ]
        assert got == expected
