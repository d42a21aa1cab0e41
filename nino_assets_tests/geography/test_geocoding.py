"""Geocoding on hand-made records: each postcode's outcome and area, and the postcode goes no further."""

import pytest

from nino_assets.definitions import WAREHOUSE_ASSETS
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.pipeline_world import Record, write_world
from nino_assets_tests.support.warehouse import materialize_quarters, materialize_world, query

Q1_2002 = Quarter(2002, 1)
BASE = Record()


def test_postcodes_are_normalised_and_unmatched_go_to_unknown(nino_home):
    postcodes = ["SW1A 1AA", "sw1a1aa", "m1 1ae", "  CF10 1EP", "OVERSEAS", "", "ZZ99 9ZZ", "12345", "SW1A"]
    records = [BASE.but(nino=f"AB{number:06d}C", postcode=code) for number, code in enumerate(postcodes)]
    result = materialize_world(nino_home, {Q1_2002: records})
    rows = query(
        nino_home,
        "SELECT geocoding_outcome, output_area_code, lad_code, region_code, country_code "
        "FROM stat.geocoded_registrations ORDER BY line_number",
    )
    assert rows == [
        ("geocoded", "E00023456", "E09000033", "E12000007", "E92000001"),
        ("geocoded", "E00023456", "E09000033", "E12000007", "E92000001"),
        ("geocoded", "E00026789", "E08000003", "E12000002", "E92000001"),
        ("geocoded", "W00001234", "W06000015", "W92000004", "W92000004"),
        ("overseas address", "OVERSEAS", "OVERSEAS", "OVERSEAS", "OVERSEAS"),
        ("postcode missing", "UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
        ("postcode not in lookup", "UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
        ("postcode malformed", "UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
        ("postcode malformed", "UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
    ]
    assert dict(query(nino_home, "SELECT geocoding_outcome, records FROM stat.geocoding_outcomes")) == {
        "geocoded": 4, "overseas address": 1, "postcode missing": 1, "postcode not in lookup": 1,
        "postcode malformed": 2,
    }
    [materialization] = result.asset_materializations_for_node("geocoded_registrations")
    assert materialization.metadata["geocoded_rate"].value == pytest.approx(4 / 9)
    columns = {name for (name,) in query(nino_home, "SELECT column_name FROM information_schema.columns "
                                                    "WHERE table_name = 'geocoded_registrations'")}
    assert "postcode" not in columns and "nino" not in columns and "date_of_birth" not in columns


def test_a_lookup_entry_not_of_the_uk_form_places_no_one(nino_home):
    # a partial postcode in the delivered lookup: a record with that postcode is malformed, not geocoded by it
    write_world(nino_home, {Q1_2002: [BASE.but(postcode="SW1A"), BASE.but(nino="AB000002C", postcode="M1 1AE")]})
    with nino_home.postcode_lookup.open("a", encoding="utf-8") as lookup:
        lookup.write("SW1A,SW1A,E00023456,E09000033,E12000007,E92000001\n")
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q1_2002]).success
    assert query(nino_home, "SELECT geocoding_outcome, lad_code FROM stat.geocoded_registrations "
                            "ORDER BY line_number") == [("postcode malformed", "UNKNOWN"), ("geocoded", "E08000003")]
