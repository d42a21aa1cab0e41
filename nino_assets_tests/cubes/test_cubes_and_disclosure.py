"""Finest cells, derived cells, cell keys and perturbation on a hand-made world: every cell checked against its
records."""

import pytest

from nino_assets.cell_key.cell_keys import cell_key
from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.cubes.cross_classifications import EVERY, PUBLISHED, CrossClassification
from nino_assets.definitions import WAREHOUSE_ASSETS
from nino_assets.disclosure.assets import DisclosureControl
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.warehouse import PLACED_REGISTRATIONS, derived_cells, materialize_quarters, query
from nino_assets_tests.support.pipeline_world import Record, write_world

Q1, Q2 = Quarter(2002, 1), Quarter(2002, 2)
PEOPLE = [
    ("POL", "M", "1980-01-01", "SW1A 1AA"),
    ("POL", "F", "1985-05-05", "SW1A 1AA"),
    ("IND", "M", "1975-03-03", "M1 1AE"),
    ("IND", "F", "1970-07-07", "CF10 1EP"),
    ("FRA", "F", "1983-08-08", "OVERSEAS"),
    ("NGA", "M", "1979-09-09", ""),
]


@pytest.fixture
def world(nino_home):
    scans = {
        quarter: [
            Record(nino=f"A{letter}{number:06d}C", nationality=nationality, sex=sex, date_of_birth=born,
                   postcode=postcode, registration_date=f"2002-{quarter.start.month + 1:02d}-15")
            for letter in ("BC" if quarter == Q1 else "EGH")  # two people a row in 2002-Q1, three in 2002-Q2
            for number, (nationality, sex, born, postcode) in enumerate(PEOPLE)
        ]
        for quarter in (Q1, Q2)
    }
    write_world(nino_home, scans)
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q1, Q2]).success
    return nino_home


def record_keys(home, where):
    return [key for (key,) in query(home, f"SELECT record_key FROM {PLACED_REGISTRATIONS} WHERE {where}")]


def test_the_finest_cells_hold_each_cells_records_count_and_key(world):
    cells = query(world, """
        SELECT c.quarter, n.code, a.code, s.code, g.code, c.registrations, c.cell_key
        FROM stat.finest_cells AS c
        JOIN stat.cube_dimensions AS n ON n.member_id = c.nationality_member AND n.level = 'country'
        JOIN stat.cube_dimensions AS a ON a.member_id = c.age_member AND a.level = 'band'
        JOIN stat.cube_dimensions AS s ON s.member_id = c.sex_member AND s.level = 'sex'
        JOIN stat.cube_dimensions AS g ON g.member_id = c.geography_member AND g.level = 'local_authority'
    """)
    direct = query(world, f"""
        SELECT registration_quarter, nationality, age_band, sex, lad_code, count(*), sum(record_key) % {RECORD_KEY_RANGE}
        FROM {PLACED_REGISTRATIONS} GROUP BY ALL
    """)
    assert sorted(cells) == sorted(direct) and len(cells) == 2 * 6  # one cell a person a quarter
    assert sum(row[5] for row in cells) == 30


def test_every_cross_classification_is_derived_with_its_records_count_and_key(world):
    cells = derived_cells(world, [Q1, Q2], EVERY)
    levels = query(world, "SELECT DISTINCT period_type, nationality_level, age_level, sex_level, geography_level "
                          f"FROM derived_cells(['2002-Q1', '2002-Q2'], $classifications, {RECORD_KEY_RANGE})",
                   {"classifications": [classification.as_struct() for classification in EVERY]})
    assert len(levels) == len(EVERY) == 2 * 5 * 2 * 2 * 4
    q1_keys = record_keys(world, "registration_quarter = '2002-Q1'")
    all_keys = record_keys(world, "true")
    assert cells[("2002-Q1", "quarter", "Total", "Total", "Total", "Total")] == (12, cell_key(q1_keys))
    # the year to 2002-Q2 is counted from its own records (both quarters), not from quarter cells
    assert cells[("2002-Q2", "year_ending", "Total", "Total", "Total", "Total")] == (30, cell_key(all_keys))
    polish_men = record_keys(world, "nationality = 'Poland' AND sex = 'M' AND registration_quarter = '2002-Q2'")
    assert cells[("2002-Q2", "quarter", "Poland", "Total", "M", "E09000033")] == (3, cell_key(polish_men))
    assert cells[("2002-Q2", "quarter", "European Union", "Total", "Total", "E12000007")][0] == 6
    assert cells[("2002-Q2", "quarter", "EU14", "Total", "Total", "OVERSEAS")][0] == 3  # French, address abroad
    assert cells[("2002-Q2", "quarter", "Total", "Total", "Total", "UNKNOWN")][0] == 3
    non_eu = record_keys(world, "world_area NOT IN ('European Union', 'Other / unknown') "
                                "AND registration_quarter = '2002-Q2'")
    assert cells[("2002-Q2", "quarter", "Non-EU", "Total", "Total", "Total")] == (len(non_eu), cell_key(non_eu))
    assert len(non_eu) > 0
    assert cells[("2002-Q2", "quarter", "Total", "Total", "Total", "W92000004")][0] == 3  # Wales, as country
    assert ("2002-Q2", "quarter", "Poland", "Total", "M", "M1 1AE") not in cells  # empty cells are not derived
    assert all(0 <= key < RECORD_KEY_RANGE for _, key in cells.values())


def test_derived_cells_equal_direct_counts_from_records(world):
    """Every region x world area x sex cell, and every year cell of local authority x age band, recounted
    straight from the geocoded records."""
    regions = derived_cells(world, [Q1, Q2], [CrossClassification("quarter", "world_area", "total", "sex", "region")])
    direct = query(world, f"""
        SELECT registration_quarter, 'quarter', world_area, 'Total', sex, region_code, count(*), sum(record_key) % {RECORD_KEY_RANGE}
        FROM {PLACED_REGISTRATIONS} GROUP BY ALL""")
    assert regions == {row[:6]: row[6:] for row in direct}
    years = derived_cells(world, [Q2], [CrossClassification("year_ending", "total", "band", "total",
                                                            "local_authority")])
    direct = query(world, f"""
        SELECT '2002-Q2', 'year_ending', 'Total', age_band, 'Total', lad_code, count(*), sum(record_key) % {RECORD_KEY_RANGE}
        FROM {PLACED_REGISTRATIONS} GROUP BY ALL""")
    assert years == {row[:6]: row[6:] for row in direct}


def test_only_the_published_cells_are_stored_perturbed_as_the_reference_does(world):
    table = DisclosureControl().ptable()
    rows = query(
        world,
        "SELECT c.registrations, c.cell_key, p.perturbed_value, p.published_value "
        f"FROM derived_cells(['2002-Q1', '2002-Q2'], $published, {RECORD_KEY_RANGE}) AS c "
        "FULL JOIN stat.perturbed_counts p USING (quarter, period_type, nationality_member, age_member, sex_member, "
        "geography_member)", {"published": [classification.as_struct() for classification in PUBLISHED]},
    )
    assert len(rows) == query(world, "SELECT count(*) FROM stat.perturbed_counts")[0][0] > 150
    for count, key, perturbed, published in rows:
        assert perturbed == table.perturb(count, key)
        assert perturbed == 0 or perturbed > 2  # js = 2: no 1s or 2s
        assert abs(perturbed - count) <= 3
        assert published % 10 == 0 and abs(published - perturbed) <= 5
    stored = query(world, "SELECT DISTINCT period_type, nationality_level, age_level, sex_level, geography_level "
                          "FROM stat.perturbed_counts")
    assert sorted(stored) == sorted(tuple(c.as_struct().values()) for c in PUBLISHED)
    columns = {name for (name,) in query(world, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'perturbed_counts'")}
    assert not columns & {"registrations", "cell_key", "pcv", "ckey", "pvalue"}


def test_an_external_ptable_in_the_ons_layout_is_applied(world, tmp_path):
    # a toy ptable in the ONS layout with 4 keys and rows repeating past 3: noise +1 on odd keys, -1 on even ones
    csv = tmp_path / "ptable.csv"
    lines = ["pcv,ckey,pvalue"] + [f"{pcv},{key},{0 if pcv == 0 else (1 if key % 2 else -1)}"
                                   for pcv in range(0, 4) for key in range(4)]
    csv.write_text("\n".join(lines) + "\n")
    from nino_assets.definitions import resources

    import dagster as dg

    resources_with_external = {**resources(world), "disclosure_control": DisclosureControl(external_ptable_csv=str(csv),
                                                                                            external_repeat_period=2)}
    result = dg.materialize(
        WAREHOUSE_ASSETS, resources=resources_with_external,
        tags={"dagster/asset_partition_range_start": Q1.partition_key,
              "dagster/asset_partition_range_end": Q2.partition_key},
    )
    assert result.success
    rows = query(
        world,
        "SELECT c.registrations, c.cell_key, p.perturbed_value "
        f"FROM derived_cells(['2002-Q1', '2002-Q2'], $published, {RECORD_KEY_RANGE}) AS c "
        "JOIN stat.perturbed_counts p USING (quarter, period_type, nationality_member, age_member, sex_member, "
        "geography_member)", {"published": [classification.as_struct() for classification in PUBLISHED]},
    )
    assert rows and all(perturbed == count + (1 if key % 4 % 2 else -1) for count, key, perturbed in rows)


def test_the_disclosure_check_recounts_overseas_and_unknown_areas_from_the_records(world):
    """Overseas and Unknown are members of every level of geography: a recount must still find each record once."""
    import dagster as dg

    from nino_assets.definitions import resources
    from nino_assets.disclosure.checks import disclosure_rules
    from nino_assets_tests.support.warehouse import range_tags

    result = dg.materialize([*WAREHOUSE_ASSETS, disclosure_rules], selection=dg.AssetSelection.checks(disclosure_rules),
                            resources=resources(world), tags=range_tags([Q1, Q2]), raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    assert evaluation.passed, metadata
    assert metadata["cells_recounted_from_records"] > 0 and metadata["cells_differing_from_records"] == 0
