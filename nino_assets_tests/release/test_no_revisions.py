"""No scheduled revisions: a later quarter's scan, late registrations and repeat NINos included, changes no cell of
a quarter already counted, perturbed and published."""

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.definitions import WAREHOUSE_ASSETS
from nino_assets.cubes.cross_classifications import EVERY, CrossClassification
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.warehouse import derived_cells, materialize_quarters, query
from nino_assets_tests.support.pipeline_world import Record, write_lookup, write_records

Q2, Q3 = Quarter(2026, 2), Quarter(2026, 3)
SEXES_AND_NATIONALITIES = [("F", "POL"), ("M", "POL"), ("F", "IND"), ("M", "ROU"), ("F", "XXX")]


def people(letter: str, count: int, registered: str) -> list[Record]:
    return [Record(nino=f"A{letter}{number:06d}C", registration_date=registered,
                   sex=SEXES_AND_NATIONALITIES[number % 5][0], nationality=SEXES_AND_NATIONALITIES[number % 5][1],
                   date_of_birth="" if number % 7 == 0 else f"{1970 + number % 30}-05-17")
            for number in range(count)]


def cells_of(home, quarter: Quarter) -> list[tuple]:
    """Every published cell of the quarter and of the year ending with it, and every other cell of them that the
    query service can be asked for, perturbed."""
    published = query(home, "SELECT * FROM stat.perturbed_counts WHERE quarter = $quarter ORDER BY ALL",
                      {"quarter": quarter.label})
    every = query(home, f"SELECT * FROM perturbed_cells([$quarter], $every, {RECORD_KEY_RANGE}) ORDER BY ALL",
                  {"quarter": quarter.label, "every": [classification.as_struct() for classification in EVERY]})
    assert len(published) > 50
    return published + every


def test_releasing_2026_q3_after_2026_q2_changes_no_2026_q2_cell(nino_home):
    write_lookup(nino_home)
    write_records(nino_home, Q2, people("B", 60, "2026-05-12"))
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q2]).success
    released = cells_of(nino_home, Q2)

    late = people("E", 12, "2026-06-03") + people("H", 6, "2026-02-20")  # dated in 2026-Q2 and 2026-Q1
    repeated = [Record(nino="AB000001C", registration_date="2026-04-02")]  # counted in 2026-Q2 already
    write_records(nino_home, Q3, people("K", 50, "2026-08-19") + late + repeated)
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q3]).success

    assert cells_of(nino_home, Q2) == released and len(released) > 100
    # nor does counting both quarters again from every scan, as a backfill or a rebuilt release does
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q2, Q3]).success
    assert cells_of(nino_home, Q2) == released
    # the late registrations are counted in the quarter they arrived in, and the repeat NINo is a duplicate
    assert query(nino_home, "SELECT registration_quarter, is_late_registration, count(*) FROM stat.registrations "
                 "WHERE scan_quarter = '2026-Q3' GROUP BY ALL ORDER BY ALL") == [
        ("2026-Q3", False, 50), ("2026-Q3", True, 18)]
    assert query(nino_home, "SELECT reason, records FROM stat.registration_exclusions WHERE scan_quarter = '2026-Q3'") \
        == [("duplicate: NINo already registered", 1)]
    [(total, _)] = derived_cells(nino_home, [Q3], [CrossClassification("quarter")]).values()
    assert total == 68
    # unknown nationality (XXX: every fifth person) and unknown age (no date of birth: every seventh) are counted,
    # in items of their own and in the total
    by_world_area = derived_cells(nino_home, [Q3], [CrossClassification("quarter", "world_area")])
    by_age = derived_cells(nino_home, [Q3], [CrossClassification("quarter", age_level="band")])
    assert by_world_area[("2026-Q3", "quarter", "Other / unknown", "Total", "Total", "Total")][0] == 10 + 2 + 1
    assert by_age[("2026-Q3", "quarter", "Total", "Unknown", "Total", "Total")][0] == 8 + 2 + 1
    assert sum(count for count, _ in by_world_area.values()) == sum(count for count, _ in by_age.values()) == total
