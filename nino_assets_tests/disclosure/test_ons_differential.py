"""Differential test against the ONS `cell-key-perturbation` package: the same microdata, the same record keys in
[0, 256) and the package's own 10/5 ptable give the same perturbed counts, cell for cell."""

import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nino_assets.definitions import WAREHOUSE_ASSETS, resources
from nino_assets.disclosure.assets import DisclosureControl
from nino_assets.shared.quarters import Quarter
from nino_assets.synthetic import generate_series, write_postcode_lookup
from nino_assets_tests.support.warehouse import PLACED_REGISTRATIONS, query, range_tags

create_perturbed_table = pytest.importorskip("cell_key_perturbation.create_perturbed_table").create_perturbed_table
ONS_PTABLE = Path(sys.prefix) / "ptable_10_5_rule.csv"
ONS_KEY_RANGE = 256
THRESHOLD = 10  # the package's default: counts below it come back as missing
QUARTERS = [Quarter(2015, 3), Quarter(2015, 4)]

# (our levels, the columns of the placed registrations the package tabulates: geography first, then the rest)
TABLES = {
    "world area x sex by region": (("world_area", "total", "sex", "region"), ["region_code", "world_area", "sex"]),
    "nationality by local authority": (("country", "total", "total", "local_authority"), ["lad_code", "nationality"]),
    "age band x sex by country": (("total", "band", "sex", "country"), ["country_code", "age_band", "sex"]),
    "subgroup, national": (("subgroup", "total", "total", "total"), ["subgroup"]),
}


@pytest.fixture(scope="module")
def ons_world(tmp_path_factory):
    from nino_assets.shared.nino_home import NinoHome

    home = NinoHome(root=str(tmp_path_factory.mktemp("ons") / "data"))
    write_postcode_lookup(home.postcode_lookup)
    generate_series(QUARTERS, home.scans, volume_scale=0.1)
    external = DisclosureControl(external_ptable_csv=str(ONS_PTABLE), external_repeat_period=250)
    result = dg.materialize(
        WAREHOUSE_ASSETS, resources={**resources(home), "disclosure_control": external}, tags=range_tags(QUARTERS)
    )
    assert result.success
    return home


def ours(home, levels, columns):
    nationality, age, sex, geography = levels
    rows = query(
        home,
        """
        SELECT g.code, n.code, a.code, s.code, p.perturbed_value
        FROM perturbed_cells([$quarter], [{'period_type': 'quarter', 'nationality_level': $n, 'age_level': $a,
                                           'sex_level': $s, 'geography_level': $g}], 4096) AS p
        JOIN stat.cube_dimensions AS n ON n.member_id = p.nationality_member
        JOIN stat.cube_dimensions AS a ON a.member_id = p.age_member
        JOIN stat.cube_dimensions AS s ON s.member_id = p.sex_member
        JOIN stat.cube_dimensions AS g ON g.member_id = p.geography_member
        WHERE p.quarter = $quarter AND p.period_type = 'quarter' AND p.nationality_level = $n AND p.age_level = $a
          AND p.sex_level = $s AND p.geography_level = $g
        """,
        {"quarter": QUARTERS[-1].label, "n": nationality, "a": age, "s": sex, "g": geography},
    )
    kept = [index for index, level in enumerate((geography, nationality, age, sex)) if level != "total"]
    return {tuple(row[index] for index in kept): row[4] for row in rows}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_same_cells_as_the_ons_package(ons_world, table):
    levels, columns = TABLES[table]
    microdata = pd.DataFrame(
        query(
            ons_world,
            f"SELECT {', '.join(columns)}, record_key % {ONS_KEY_RANGE} AS record_key "
            f"FROM {PLACED_REGISTRATIONS} WHERE registration_quarter = $quarter",
            {"quarter": QUARTERS[-1].label},
        ),
        columns=[*columns, "record_key"],
    )
    ptable = pd.read_csv(ONS_PTABLE)
    theirs = create_perturbed_table(
        data=microdata, ptable=ptable, geog=columns[:1], tab_vars=columns[1:], record_key="record_key",
        use_existing_ons_id=False, threshold=THRESHOLD,
    )
    theirs = theirs[theirs["pre_sdc_count"] > 0]
    mine = ours(ons_world, levels, columns)
    assert len(mine) == len(theirs) > 5
    assert theirs["count"].notna().sum() > 5, "the comparison must cover published (unsuppressed) cells"
    assert (theirs["count"] != theirs["pre_sdc_count"]).any(), "the comparison must cover perturbed cells"
    for row in theirs.itertuples(index=False):
        cell = tuple(getattr(row, column) for column in columns)
        if pd.isna(row.count):  # the package suppresses below its threshold; ours publishes and rounds instead
            assert mine[cell] < THRESHOLD, cell
        else:
            assert mine[cell] == row.count, cell
