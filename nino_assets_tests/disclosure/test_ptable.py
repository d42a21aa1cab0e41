"""The ptable: the reference construction's golden vector, the default parameters, and the ONS 10/5 table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from nino_assets.cell_key.ptable import (
    DEFAULT_PTABLE_PARAMETERS,
    PtableParameters,
    generate_ptable,
    load_ons_ptable,
)

# Test vector A: create_cnt_ptable(D=2, V=1.05, js=1) from the R package ptable (sdcTools, `ptable::create_cnt_ptable`).
VECTOR_A = {
    0: {0: 1.0},
    1: {-1: 0.50833333, 1: 0.47500000, 2: 0.01666667},
    2: {-2: 0.16155827, 0: 0.55565037, 1: 0.24246618, 2: 0.04032518},
    3: {-1: 0.41231301, 0: 0.28806097, 1: 0.18693903, 2: 0.11268699},
    4: {-2: 0.07012498, -1: 0.24450007, 0: 0.37074990, 1: 0.24450007, 2: 0.07012498},
}

SHIPPED_ONS_PTABLE = Path(sys.prefix) / "ptable_10_5_rule.csv"
"""The 10/5 table that the ONS `cell-key-perturbation` package installs into its environment's prefix."""


def ons_10_5_noise(pcv: int) -> int:
    """The ONS 10/5 rule as the ckm README states it."""
    return -pcv if pcv < 10 else {0: 0, 1: -1, 2: -2, 3: 2, 4: 1}[pcv % 5]


def ons_pcv(cell_value: int) -> int:
    """The ONS package's own pcv rule (create_perturbed_table.py, step 3)."""
    return cell_value if cell_value <= 750 else ((cell_value - 1) % 250) + 501


@pytest.fixture(scope="module")
def ons_ptable_path(tmp_path_factory) -> Path:
    """The shipped 10/5 table, or where the ONS package is absent the same table written from the rule."""
    if SHIPPED_ONS_PTABLE.exists():
        return SHIPPED_ONS_PTABLE
    path = tmp_path_factory.mktemp("ptable") / "ptable_10_5_rule.csv"
    pcvs, keys = np.meshgrid(np.arange(1, 751), np.arange(256), indexing="ij")
    pl.DataFrame(
        {"pcv": pcvs.ravel(), "ckey": keys.ravel(), "pvalue": [ons_10_5_noise(int(p)) for p in pcvs.ravel()]}
    ).write_csv(path)
    return path


@pytest.fixture(scope="module")
def ons_ptable(ons_ptable_path):
    return load_ons_ptable(ons_ptable_path)


def test_golden_vector_a_every_row_to_1e6():
    table = generate_ptable(PtableParameters(max_perturbation=2, variance=1.05, smallest_published=1))
    assert table.max_pcv == 4 and table.repeat_period == 1
    for row in table.rows:
        expected = VECTOR_A[row.pcv]
        assert row.noises == tuple(expected)
        np.testing.assert_allclose(row.probabilities, list(expected.values()), rtol=0, atol=1e-6)
    assert [table.pcv(value) for value in (0, 3, 4, 5, 1000)] == [0, 3, 4, 4, 4]


def test_default_parameters_reach_the_variance_in_every_row():
    params = DEFAULT_PTABLE_PARAMETERS
    assert (params.max_perturbation, params.variance, params.smallest_published, params.record_key_range) == (
        3, 2.0, 2, 4096,
    )
    table = generate_ptable()
    assert table.max_pcv == params.ncat == 6 and table.key_range == 4096
    for row in table.rows[1:]:
        noises, p = np.array(row.noises), np.array(row.probabilities)
        assert p.sum() == pytest.approx(1, abs=1e-12)
        assert p @ noises == pytest.approx(0, abs=1e-10)
        assert p @ noises**2 == pytest.approx(2.0, abs=1e-10)  # V itself, not a lower feasible variance
        assert abs(row.mean) <= 6 / 4096 and abs(row.variance - 2.0) <= 18 / 4096  # 2D/N, 2D^2/N
    assert table.rows[1].probabilities[:2] == pytest.approx((2 / 3, 1 / 3))  # 1 -> 0 or 3: the only way to reach V
    json.dumps(table.metadata())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_perturbation": 0, "variance": 1.0, "smallest_published": 0}, ValueError, "at least 1"),
        ({"max_perturbation": 2, "variance": 4.0, "smallest_published": 3}, ValueError, "0..max_perturbation"),
        ({"max_perturbation": 3, "variance": 0.0, "smallest_published": 0}, ValueError, "above 0"),
        ({"max_perturbation": 3, "variance": float("nan"), "smallest_published": 0}, ValueError, "finite"),
        ({"max_perturbation": 3, "variance": 1.99, "smallest_published": 2}, ValueError, "below 2"),
        ({"max_perturbation": 4, "variance": 3.9, "smallest_published": 3}, ValueError, "below 4"),
        ({"max_perturbation": 3, "variance": 2.0, "smallest_published": 2, "record_key_range": 1}, ValueError, "N"),
        ({"max_perturbation": 2.5, "variance": 2.0, "smallest_published": 0}, TypeError, "integer"),
    ],
)
def test_parameters_are_validated(kwargs, error, message):
    with pytest.raises(error, match=message):
        PtableParameters(**kwargs)


def test_variance_above_a_rows_reach_takes_the_widest_unbiased_distribution():
    params = PtableParameters(max_perturbation=1, variance=5.0, smallest_published=1, record_key_range=64)
    table = generate_ptable(params)
    by_row = {row.pcv: dict(zip(row.noises, row.probabilities, strict=True)) for row in table.rows}
    assert by_row[1] == {-1: 0.5, 1: 0.5}  # 1 -> 0 or 2
    assert by_row[2] == {0: 1.0, 1: 0.0}  # 2 cannot go down (1 is blocked), so unbiased means staying
    assert by_row[3] == {-1: 0.5, 0: 0.0, 1: 0.5}
    # Key k takes the first noise with k / N < ub: key 32 of 64 sits on the bound 0.5 and goes up.
    assert [row.key_counts for row in table.rows[1:]] == [(32, 32), (64, 0), (32, 0, 32)]
    assert (table.perturbation_value(1, 31), table.perturbation_value(1, 32)) == (-1, 1)


def test_ons_examples(ons_ptable):
    assert (ons_ptable.max_pcv, ons_ptable.key_range, ons_ptable.repeat_period) == (750, 256, 250)
    assert ons_ptable.perturb(10, 173) == 10
    assert ons_ptable.perturb(7, 180) == 0
    assert ons_ptable.perturb(14, 66) == 15
    assert ons_ptable.perturb(11, 190) == 10
    assert ons_ptable.pcv(1001) == 501
    assert ons_ptable.perturb(0, 17) == 0


@pytest.mark.skipif(not SHIPPED_ONS_PTABLE.exists(), reason="the ONS cell-key-perturbation package is not installed")
def test_shipped_ons_table_follows_the_10_5_rule():
    table = load_ons_ptable(SHIPPED_ONS_PTABLE)
    expected = np.array([ons_10_5_noise(pcv) for pcv in range(1, 751)])
    assert (table.noise[1:] == expected[:, None]).all()


def test_pcv_rule_matches_the_ons_formula_and_its_sql(ons_ptable):
    values = range(100_001)
    assert [ons_ptable.pcv(value) for value in values] == [ons_pcv(value) for value in values]
    for table in (ons_ptable, generate_ptable()):
        sql = f"SELECT {table.pcv_sql('cv')} FROM range(100001) AS r(cv) ORDER BY cv"
        assert [pcv for (pcv,) in duckdb.sql(sql).fetchall()] == [table.pcv(value) for value in values]


def test_lookup_frame_is_the_ons_layout(ons_ptable, ons_ptable_path):
    frame = ons_ptable.lookup_frame()
    assert frame.columns == ["pcv", "ckey", "pvalue"] and frame.height == 751 * 256
    assert frame.filter(pl.col("pcv") == 0)["pvalue"].unique().to_list() == [0]
    original = pl.read_csv(ons_ptable_path).cast(pl.Int64)
    assert frame.filter(pl.col("pcv") > 0).sort("pcv", "ckey").equals(original.sort("pcv", "ckey"))


def small_table(pcvs=(1, 2, 3), keys=4, pvalue=0) -> pl.DataFrame:
    pcv, ckey = np.meshgrid(pcvs, np.arange(keys), indexing="ij")
    return pl.DataFrame({"pcv": pcv.ravel(), "ckey": ckey.ravel(), "pvalue": np.full(pcv.size, pvalue)})


def test_load_accepts_a_valid_small_table_with_a_zero_row(tmp_path):
    path = tmp_path / "ok.csv"
    small_table(pcvs=(0, 1, 2, 3)).write_csv(path)
    table = load_ons_ptable(path, repeat_period=2)
    assert (table.max_pcv, table.key_range, table.repeat_period) == (3, 4, 2)
    assert [table.pcv(value) for value in range(7)] == [0, 1, 2, 3, 2, 3, 2]


@pytest.mark.parametrize(
    ("frame", "repeat_period", "message"),
    [
        (small_table().drop("pvalue"), 1, "missing column"),
        (small_table().with_columns(pl.col("pvalue").cast(pl.String) + "x"), 1, "integers"),
        (pl.concat([small_table(), small_table().head(1)]), 1, r"\(1, 0\) appears more than once"),
        (small_table().filter(pl.col("pcv") != 2), 1, r"pcv \[2\] lack"),
        (small_table().filter((pl.col("pcv") != 3) | (pl.col("ckey") != 1)), 1, r"pcv \[3\] lack"),
        (pl.concat([small_table(pcvs=(0,), pvalue=1), small_table()]), 1, "pcv 0 must have pvalue 0"),
        (small_table(pvalue=-2), 1, "below zero"),
        (small_table(), 4, "repeat_period 4"),
        (small_table().head(0), 1, "no rows"),
    ],
)
def test_load_rejects_a_malformed_table_naming_the_file(tmp_path, frame, repeat_period, message):
    path = tmp_path / "bad.csv"
    frame.write_csv(path)
    with pytest.raises(ValueError, match=message) as raised:
        load_ons_ptable(path, repeat_period=repeat_period)
    assert str(path) in str(raised.value)


def test_load_reports_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        load_ons_ptable(tmp_path / "absent.csv")
