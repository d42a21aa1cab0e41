"""The query service on a real cube (the service tests' world: support/service_world.py), run by uvicorn on
loopback. The PyPI `statxplore` client talks to it unchanged but for its base URL."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import polars as pl
import pytest
import requests
from statxplore.http_session import StatSession
from statxplore.objects import Schema, Table

from nino_assets.cubes.cross_classifications import EVERY, CrossClassification
from nino_assets.disclosure.assets import DisclosureControl
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.quarters import Quarter
from nino_assets.service.app import JSON_MEDIA_TYPE, ServiceSettings
from nino_assets.service.server import serving_in_process
from nino_assets.publication.supplementary_tables import LAYOUTS
from nino_assets_tests.support.service_world import KEYS, QUARTERS, REFERENCE, release
from nino_assets_tests.support.warehouse import query
from nino_assets_tests.support.service_client import (
    AGE_FIELD,
    VALUESETS,
    DATABASE,
    GEOGRAPHY_FIELD,
    MEASURE,
    NATIONALITY_FIELD,
    QUARTER_FIELD,
    SEX_FIELD,
    assert_published_tables_match,
    band_value,
    la_value,
    member_value,
    quarter_value,
    region_value,
    serving_in_thread,
)

BODIES = Path(__file__).resolve().parent.parent / "support" / "statxplore_bodies"
PTABLE = DisclosureControl().ptable()  # the Python reference of the method, generated afresh from its parameters


@pytest.fixture(scope="module")
def base_url(world):
    with serving_in_thread(world.settings()) as url:
        yield url


@pytest.fixture
def session(base_url) -> StatSession:
    session = StatSession(KEYS[0])
    session.BASE_URL = base_url  # the only change to the client
    return session


def table(session, dimensions: list[str], recodes: dict | None = None) -> dict:
    return Table.query(session, database=DATABASE, measures=[MEASURE], dimensions=[[field] for field in dimensions],
                       recodes=recodes)


def decoded(body: dict) -> dict[tuple, float]:
    """A response's cells keyed by each field's item labels (a group's labels joined by "+"), from its nested
    values (last field fastest)."""
    labels = [["+".join(item["labels"]) for item in field["items"]] for field in body["fields"]]
    cells = {}

    def walk(values, prefix):
        if len(prefix) == len(labels):
            cells[tuple(prefix)] = values
            return
        assert len(values) == len(labels[len(prefix)])
        for label, inner in zip(labels[len(prefix)], values):
            walk(inner, [*prefix, label])

    walk(body["cubes"][MEASURE]["values"], [])
    return cells


def recount(records: pl.DataFrame) -> float:
    """A cell's perturbed value from its records alone: count, key sum modulo 4096, then the reference ptable."""
    if records.height == 0:
        return 0.0
    return float(PTABLE.perturb(records.height, int(records["record_key"].sum()) % PTABLE.key_range))


# --- the statxplore client, unchanged but for its base URL -------------------------------------------------------

def test_the_client_reads_info_and_its_rate_limit(session):
    assert session.info == {"languages": [{"locale": "en", "displayName": "English"}]}
    before = session.rate_limit
    assert list(before) == ["remaining", "reset", "limit"] and before["limit"] == 2000
    session.info  # one more request
    after = session.rate_limit
    assert after["remaining"] == before["remaining"] - 1 and after["reset"] == before["reset"]
    assert after["reset"] > time.time() * 1000  # epoch milliseconds, in the future


def test_the_client_walks_the_schema_from_the_root_to_every_value(session, world):
    root = Schema.list(session)
    assert (root["id"], root["type"]) == ("str:folder:root", "FOLDER")
    seen: dict[str, list[dict]] = {}

    def walk(node: dict) -> None:
        seen.setdefault(node["type"], []).append(node)
        # every node's location is its own absolute URL, and every child's is where the client finds it
        assert requests.get(node["location"], headers={"APIKey": KEYS[0]}).json()["id"] == node["id"]
        for child in node.get("children", []):
            if child["type"] == "VALUE":
                seen.setdefault("VALUE", []).append(child)
            else:
                full = Schema(child["id"]).get(session)
                assert {key: full[key] for key in ("id", "label", "location", "type")} == child
                walk(full)

    walk(root)
    [database] = seen["DATABASE"]
    assert database["id"] == DATABASE
    assert [child["id"] for child in database["children"]] == [
        MEASURE, QUARTER_FIELD, NATIONALITY_FIELD, AGE_FIELD, SEX_FIELD, GEOGRAPHY_FIELD]
    assert [node["id"] for node in seen["MEASURE"]] == [MEASURE]
    assert len(seen["VALUESET"]) == 10
    values = {node["id"]: node["label"] for node in seen["VALUE"]}
    dimensions = world.manifest["dimensions"]
    assert len(values) == (len(QUARTERS) + sum(len(members) for levels in dimensions.values()
                                               for level, members in levels.items() if level != "total"))
    assert [values[quarter_value(quarter)] for quarter in QUARTERS] == [quarter.label for quarter in QUARTERS]
    assert values[region_value("E12000007")] == "London"
    assert values[la_value("OVERSEAS")] == "Overseas registration" and values[la_value("UNKNOWN")] == "Unknown"
    assert values["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:F"] == "Female"
    assert values[band_value("60 or over")] == "60 or over"
    # a value node has no children
    value_id = quarter_value(QUARTERS[0])
    assert "children" not in Schema(value_id).get(session)


def test_the_client_gets_a_table_with_a_subset_a_custom_group_and_totals(session, world):
    year = [quarter_value(quarter) for quarter in QUARTERS[1:]]
    london = world.local_authorities_of("E12000007")
    body = table(session, [QUARTER_FIELD, GEOGRAPHY_FIELD, SEX_FIELD], {
        QUARTER_FIELD: {"map": [[quarter_value(QUARTERS[1])], year], "total": True},
        # a region, a custom group of some of its local authorities with an area outside it, and their total
        GEOGRAPHY_FIELD: {"map": [[region_value("E12000007")],
                                  [*(la_value(code) for code in london[:5]), la_value("OVERSEAS")]],
                          "total": True},
    })
    cells = decoded(body)
    records = world.records
    quarters = {"2002-Q2": ["2002-Q2"], "+".join(q.label for q in QUARTERS[1:]): [q.label for q in QUARTERS[1:]],
                "Total": [q.label for q in QUARTERS[1:]]}
    labels = {member["code"]: member["label"]
              for member in world.manifest["dimensions"]["geography"]["local_authority"]}
    group = [*london[:5], "OVERSEAS"]
    areas = {"London": london, "+".join(labels[code] for code in group): group, "Total": [*london, "OVERSEAS"]}
    sexes = {"Female": "F", "Male": "M"}
    assert len(cells) == 3 * 3 * 2
    for (quarter, area, sex), value in cells.items():
        expected = recount(records.filter(pl.col("quarter").is_in(quarters[quarter]),
                                          pl.col("local_authority").is_in(areas[area]), pl.col("sex") == sexes[sex]))
        assert value == expected, (quarter, area, sex)
        assert isinstance(value, float)
    assert sum(value > 0 for value in cells.values()) >= 12


def test_the_dagster_free_entry_point_serves_the_released_cube(world):
    with serving_in_process(world.home.root_path, world.keys_file) as url:
        assert requests.get(f"{url}info", headers={"APIKey": KEYS[0]}).json()["languages"][0]["locale"] == "en"
        assert_error(requests.get(f"{url}info"), 403, "forbidden")
        schema = requests.get(f"{url}schema/{QUARTER_FIELD}", headers={"APIKey": KEYS[0]}).json()
        assert schema["location"] == f"{url}schema/{QUARTER_FIELD}"


def test_a_field_without_a_recode_lists_its_finest_values_and_a_valueset_its_own(session, world):
    by_band = decoded(table(session, [AGE_FIELD]))
    bands = [member["code"] for member in world.manifest["dimensions"]["age"]["band"]]
    assert list(by_band) == [(band,) for band in bands]
    records = world.records
    assert by_band == {(band,): recount(records.filter(pl.col("age_band") == band)) for band in bands}
    regions_valueset = "str:valueset:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_REGION_TO_COUNTRY"
    body = Table.query(session, database=DATABASE, measures=[MEASURE], dimensions=[[regions_valueset]])
    regions = world.manifest["dimensions"]["geography"]["region"]
    assert [item["labels"] for item in body["fields"][0]["items"]] == [[region["label"]] for region in regions]


# --- a query copied from a DWP Stat-Xplore session -----------------------------------------------------------

def test_dwp_valueset_ids_give_the_numbers_of_their_fields(session, world):
    """DWP's valueset ids, as queries written for the real NINo database name them, list the same items with the
    same numbers as their fields do."""
    for field, valueset in ((GEOGRAPHY_FIELD, "str:valueset:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_LA_TO_REGION_NI"),
                            (NATIONALITY_FIELD, "str:valueset:Ninos:V_F_NINOS:NEWNAT:C_NINO_COUNTRY"),
                            (AGE_FIELD, "str:valueset:Ninos:V_F_NINOS:AGE_CODE:C_NINO_AGE_BAND"),
                            (SEX_FIELD, "str:valueset:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX")):
        by_field, by_valueset = table(session, [field]), table(session, [valueset])
        assert by_field["fields"][0]["items"] == by_valueset["fields"][0]["items"]
        assert decoded(by_field) == decoded(by_valueset) and sum(decoded(by_field).values()) > 0
        assert all(uri.startswith(valueset.replace("str:valueset:", "str:value:") + ":")
                   for item in by_field["fields"][0]["items"] for uri in item["uris"])


def test_a_query_body_with_dwp_ids_runs_unchanged(base_url, world):
    westminster = "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_LA_TO_REGION_NI:E09000033"
    london = "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_REGION_TO_COUNTRY:E12000007"
    india = "str:value:Ninos:V_F_NINOS:NEWNAT:C_NINO_COUNTRY:INDIA"
    body = {
        "database": "str:database:Ninos",
        "measures": ["str:count:Ninos:V_F_NINOS"],
        "recodes": {
            "str:field:Ninos:V_F_NINOS:UK_COA": {"map": [[westminster], [london]], "total": True},
            "str:field:Ninos:V_F_NINOS:NEWNAT": {"map": [[india]], "total": False},
            "str:field:Ninos:V_F_NINOS:AGE_CODE": {"map": [
                ["str:value:Ninos:V_F_NINOS:AGE_CODE:C_NINO_AGE_BAND:25_29"],
                ["str:value:Ninos:V_F_NINOS:AGE_CODE:C_NINO_AGE_BAND:30_34"]], "total": False},
            "str:field:Ninos:V_F_NINOS:CCSEX_CODE": {"map": [
                ["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:F"],
                ["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:M"]], "total": True},
        },
        "dimensions": [["str:field:Ninos:V_F_NINOS:UK_COA"], ["str:field:Ninos:V_F_NINOS:NEWNAT"],
                       ["str:field:Ninos:V_F_NINOS:AGE_CODE"], ["str:field:Ninos:V_F_NINOS:CCSEX_CODE"]],
    }
    answer = post_table(base_url, body)
    assert answer.status_code == 200, answer.text
    cells = decoded(answer.json())
    records = world.records
    areas = {"Westminster": ["E09000033"], "London": world.local_authorities_of("E12000007"),
             "Total": world.local_authorities_of("E12000007")}
    sexes = {"Female": ["F"], "Male": ["M"], "Total": ["F", "M"]}
    assert len(cells) == 3 * 1 * 2 * 3
    for (area, nationality, band, sex), value in cells.items():
        assert nationality == "India"
        assert value == recount(records.filter(pl.col("local_authority").is_in(areas[area]),
                                               pl.col("nationality") == "India", pl.col("age_band") == band,
                                               pl.col("sex").is_in(sexes[sex])))
    assert sum(cells.values()) > 0


def test_answers_carry_stat_xplore_media_type_and_table_rate_headers(base_url):
    body = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]]}
    first, second = post_table(base_url, body), post_table(base_url, body)
    info = requests.get(base_url + "info", headers={"APIKey": KEYS[1]})
    for answer in (first, second, info):
        assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    for answer in (first, second):
        for header in ("X-RateLimit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert answer.headers[f"{header}-Table"] == answer.headers[header]
    assert int(second.headers["X-RateLimit-Remaining-Table"]) == int(first.headers["X-RateLimit-Remaining-Table"]) - 1
    assert "X-RateLimit-Table" not in info.headers and "X-RateLimit" in info.headers


def test_null_or_absent_recodes_are_echoed_as_sent(base_url):
    body = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]]}
    with_null = post_table(base_url, {**body, "recodes": None}).json()
    assert list(with_null["query"]) == ["database", "measures", "recodes", "dimensions"]
    assert with_null["query"]["recodes"] is None
    without = post_table(base_url, body).json()
    assert list(without["query"]) == ["database", "measures", "dimensions"]
    assert without["cubes"] == with_null["cubes"]


def test_a_recode_keyed_by_a_valueset_id_is_honoured_and_two_keys_for_one_field_refused(base_url, world):
    female = f"{VALUESETS['sex', 'sex']}:F"
    valueset = "str:valueset:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX"
    body = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]],
            "recodes": {valueset: {"map": [[female]], "total": True}}}
    answer = post_table(base_url, body).json()
    assert [item["labels"] for item in answer["fields"][0]["items"]] == [["Female"], ["Total"]]
    assert decoded(answer) == {("Female",): recount(world.records.filter(pl.col("sex") == "F")),
                               ("Total",): recount(world.records.filter(pl.col("sex") == "F"))}
    both = {**body, "recodes": {valueset: {"map": [[female]]}, SEX_FIELD: {"map": [[female]]}}}
    refused = assert_error(post_table(base_url, both), 422, "badRequest")
    assert valueset in refused["message"] and SEX_FIELD in refused["message"]


def test_a_deeply_nested_body_is_a_422_and_the_connection_still_answers(base_url):
    url = requests.utils.urlparse(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"APIKey": KEYS[1], "Content-Type": "application/json"}
    try:
        connection.request("POST", f"{url.path}table", body="[" * 200_000 + "]" * 200_000, headers=headers)
        nested = connection.getresponse()
        body = json.loads(nested.read())
        assert (nested.status, body["errorType"]) == (422, "badRequest") and "nested" in body["message"]
        assert nested.getheader("content-type") == JSON_MEDIA_TYPE
        connection.request("POST", f"{url.path}table", headers=headers, body=json.dumps(
            {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]]}))
        after = connection.getresponse()
        assert after.status == 200 and len(json.loads(after.read())["fields"][0]["items"]) == 2
    finally:
        connection.close()


# --- consistency ------------------------------------------------------------------------------------------------

LEVELS = {"nationality": ("country", "subgroup", "world_area", "eu_group"),
          "geography": ("local_authority", "region", "country")}
OTHERS = ("others", "others")


def busiest(home: NinoHome, dimension: str, level: str, count: int) -> list[str]:
    """The members of a level with the most registrations in the year to the reference quarter."""
    return [code for (code,) in query(home, f"""
        SELECT member.code FROM perturbed_cells([$reference], [$classification], 4096) AS p
        JOIN stat.cube_dimensions AS member ON member.member_id = p.{dimension}_member
        ORDER BY p.perturbed_value DESC, member.code LIMIT {count}""",
        {"reference": REFERENCE.label,
         "classification": CrossClassification("year_ending", **{f"{dimension}_level": level}).as_struct()})]


@pytest.mark.parametrize("nationality_level", LEVELS["nationality"])
@pytest.mark.parametrize("geography_level", LEVELS["geography"])
def test_every_cell_equals_the_warehouse_perturbed_cell(session, world, nationality_level, geography_level):
    """Quarters and years to each quarter (groups of up to 4 quarters) x nationality x age x sex x geography, with
    totals on every field but the period: every cell is the warehouse's perturbed cell (`perturbed_cells`, the
    definition the published cells are made by), 0 where the warehouse has no cell."""
    manifest = world.manifest["dimensions"]
    chosen = {"nationality": busiest(world.home, "nationality", nationality_level, 8),
              "geography": busiest(world.home, "geography", geography_level, 12)}
    # the rest of the level as one custom group, so that each total (of a recode's items) is of every record
    others = {}
    for dimension, level in (("nationality", nationality_level), ("geography", geography_level)):
        rest = [member_value(dimension, level, member["code"]) for member in manifest[dimension][level]
                if member["code"] not in chosen[dimension]]
        others[dimension] = [rest] if rest else []
    periods = [("quarter", quarter, [quarter]) for quarter in QUARTERS] + [
        ("year_ending", quarter, QUARTERS[max(0, index - 3):index + 1]) for index, quarter in enumerate(QUARTERS)]
    recodes = {
        QUARTER_FIELD: {"map": [[quarter_value(q) for q in group] for _, _, group in periods], "total": False},
        NATIONALITY_FIELD: {"map": [*([member_value("nationality", nationality_level, code)]
                                      for code in chosen["nationality"]), *others["nationality"]], "total": True},
        AGE_FIELD: {"map": [[band_value(band["code"])] for band in manifest["age"]["band"]], "total": True},
        SEX_FIELD: {"map": [["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:F"],
                            ["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:M"]], "total": True},
        GEOGRAPHY_FIELD: {"map": [*([member_value("geography", geography_level, code)]
                                    for code in chosen["geography"]), *others["geography"]], "total": True},
    }
    body = table(session, [QUARTER_FIELD, NATIONALITY_FIELD, AGE_FIELD, SEX_FIELD, GEOGRAPHY_FIELD], recodes)
    keys = [[(period_type, quarter.label) for period_type, quarter, _ in periods],
            [(nationality_level, code) for code in chosen["nationality"]] + [OTHERS] * len(others["nationality"])
            + [("total", "Total")],
            [("band", band["code"]) for band in manifest["age"]["band"]] + [("total", "Total")],
            [("sex", "F"), ("sex", "M"), ("total", "Total")],
            [(geography_level, code) for code in chosen["geography"]] + [OTHERS] * len(others["geography"])
            + [("total", "Total")]]
    warehouse = {tuple(row[:-1]): row[-1] for row in query(world.home, """
        SELECT p.period_type, p.quarter, n.level, n.code, a.level, a.code, s.level, s.code, g.level, g.code,
               p.perturbed_value
        FROM perturbed_cells($quarters, $classifications, 4096) AS p
        JOIN stat.cube_dimensions AS n ON n.member_id = p.nationality_member
        JOIN stat.cube_dimensions AS a ON a.member_id = p.age_member
        JOIN stat.cube_dimensions AS s ON s.member_id = p.sex_member
        JOIN stat.cube_dimensions AS g ON g.member_id = p.geography_member""",
        {"quarters": [quarter.label for quarter in QUARTERS], "classifications": [
            classification.as_struct() for classification in EVERY
            if classification.nationality_level in (nationality_level, "total")
            and classification.geography_level in (geography_level, "total")]})}
    compared = non_zero = 0

    def walk(values, prefix):
        nonlocal compared, non_zero
        if len(prefix) == len(keys):
            if OTHERS in prefix:  # a custom group: no warehouse cell of its own
                return
            key = tuple(part for pair in prefix for part in pair)
            assert values == float(warehouse.get(key, 0)), " ".join(key)
            compared += 1
            non_zero += values > 0
            return
        for pair, inner in zip(keys[len(prefix)], values):
            walk(inner, [*prefix, pair])

    walk(body["cubes"][MEASURE]["values"], [])
    assert compared == len(periods) * (len(chosen["nationality"]) + 1) * 12 * 3 * (len(chosen["geography"]) + 1)
    assert non_zero > compared // 10, "too few non-empty cells for the comparison to mean much"


def test_each_published_table_cell_is_the_service_cell_rounded(base_url, world):
    """Tables 1-6 as published (quarters by world area and subgroup; nationalities, regions and local authorities
    by year; age band by sex by year; world areas by year): each numeric cell is the service's value for that cell
    rounded to 10. Table 7, the nationality lookup, holds no counts."""
    compared = assert_published_tables_match(base_url, KEYS[0], world.home.working_release(REFERENCE.label) / "tables",
                                             world.manifest, REFERENCE)
    assert set(compared) == {layout.sheet_name for layout in LAYOUTS if layout.name != "nationality_lookup"}
    assert all(compared.values())


def test_the_same_cell_has_the_same_value_in_any_table_order_or_recode(session, world):
    london = world.local_authorities_of("E12000007")
    regions = table(session, [GEOGRAPHY_FIELD, SEX_FIELD], {GEOGRAPHY_FIELD: {"map": [
        [region_value(member["code"])] for member in world.manifest["dimensions"]["geography"]["region"]],
        "total": True}, SEX_FIELD: {"map": [["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:F"],
                                             ["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:M"]], "total": True}})
    # the other order, a subset, and London as the custom group of all its local authorities
    reordered = table(session, [SEX_FIELD, QUARTER_FIELD, GEOGRAPHY_FIELD], {
        QUARTER_FIELD: {"map": [[quarter_value(quarter) for quarter in QUARTERS]], "total": False},
        GEOGRAPHY_FIELD: {"map": [[region_value("E12000007")], [la_value(code) for code in london]],
                          "total": False}})
    by_region, by_sex = decoded(regions), decoded(reordered)
    every_quarter = "+".join(quarter.label for quarter in QUARTERS)
    london_group = "+".join(item for item in reordered["fields"][2]["items"][1]["labels"])
    for sex in ("Female", "Male"):
        assert by_region["London", sex] == by_sex[sex, every_quarter, "London"] == by_sex[sex, every_quarter,
                                                                                          london_group] > 0
    # the national total, asked for as a total of regions and as a total of sexes, is one cell
    sexes = decoded(table(session, [SEX_FIELD], {SEX_FIELD: {"map": [
        ["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:F"],
        ["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:M"]],
        "total": True}}))
    assert by_region["Total", "Total"] == sexes["Total",] == recount(world.records)


# --- the response's shape, against real Stat-Xplore bodies ---------------------------------------------------

def shape(body: dict) -> dict:
    """What a body's structure is, whatever its database: keys in order, item and cube structure, value types."""
    def depth_and_lengths(values):
        lengths = []
        while isinstance(values, list):
            lengths.append(len(values))
            values = values[0]
        return lengths, type(values)

    return {
        "keys": list(body),
        "query": list(body["query"]),
        "query_recodes": [list(recode) for recode in body["query"]["recodes"].values()],
        "database": list(body["database"]),
        "measures": [list(measure) for measure in body["measures"]][:1],
        "function": body["measures"][0]["function"],
        "fields": [list(field) for field in body["fields"]],
        # annotationKeys is optional on an item: present only where the database marks it (as "r" for revised)
        "items": [[([key for key in item if key != "annotationKeys"], item["type"]) for item in field["items"]]
                  for field in body["fields"]],
        "cubes": [list(cube) for cube in body["cubes"].values()][:1],
        "cube_ids": list(body["cubes"]) == [measure["uri"] for measure in body["measures"]],
        "values": depth_and_lengths(next(iter(body["cubes"].values()))["values"]),
        "precision": next(iter(body["cubes"].values()))["precision"],
        "annotations": all(isinstance(key, str) and isinstance(text, str)
                           for key, text in body["annotationMap"].items()),
    }


def test_a_table_has_the_shape_of_real_stat_xplore_bodies(session, world):
    """Body a: three fields (9 regions and a total; the 4 latest periods, marked revised, no total; 5 categories
    and a total); body b: the first two. The same layouts asked of this service give the same structure."""
    regions = [region_value(code) for code in (f"E1200000{number}" for number in range(1, 10))]
    bands = [band_value(member["code"]) for member in world.manifest["dimensions"]["age"]["band"][:5]]
    periods = [quarter_value(quarter) for quarter in QUARTERS[:4]]  # the four before the reference quarter
    recodes = {GEOGRAPHY_FIELD: {"map": [[region] for region in regions], "total": True},
               AGE_FIELD: {"map": [[band] for band in bands], "total": True},
               QUARTER_FIELD: {"map": [[period] for period in periods], "total": False}}
    ours_a = table(session, [GEOGRAPHY_FIELD, QUARTER_FIELD, AGE_FIELD], recodes)
    ours_b = table(session, [GEOGRAPHY_FIELD, QUARTER_FIELD],
                   {field: recodes[field] for field in (GEOGRAPHY_FIELD, QUARTER_FIELD)})
    real_a, real_b = (json.loads((BODIES / f"table_response_{name}.json").read_text()) for name in "ab")
    assert shape(ours_a) == shape(real_a)
    assert shape(ours_b) == shape(real_b)
    assert ours_a["query"] == {"database": DATABASE, "measures": [MEASURE], "recodes": recodes,
                               "dimensions": [[GEOGRAPHY_FIELD], [QUARTER_FIELD], [AGE_FIELD]]}
    # the real bodies' precision and value type: whole counts as floats
    assert shape(ours_a)["values"] == ([10, 4, 6], float)
    # no scheduled revisions: no quarter is marked "r", even the four before the reference quarter
    assert all("annotationKeys" not in item for field in ours_a["fields"] for item in field["items"])
    assert list(ours_a["annotationMap"]) == ours_a["database"]["annotationKeys"]


# --- only what is published ----------------------------------------------------------------------------------

def test_a_quarter_after_the_release_is_invisible_and_refused_even_when_the_file_holds_it(world, tmp_path):
    service_root = tmp_path / "service" / "releases"
    with serving_in_thread(world.settings(service_root)) as url:
        def get(node):
            return requests.get(f"{url}schema/{node}", headers={"APIKey": KEYS[0]})

        def post(body):
            return requests.post(f"{url}table", json=body, headers={"APIKey": KEYS[0]})

        all_quarters = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[QUARTER_FIELD]]}
        # before any release: the root folder and nothing in it
        assert get("str:folder:root").json()["children"] == []
        assert get(DATABASE).status_code == 400
        assert post(all_quarters).json()["errorType"] == "unknownId"

        # released as 2002-Q4, from a cube whose file also holds 2003-Q1
        release(world.cube, service_root, Quarter(2002, 4))
        valueset = get("str:valueset:Ninos:F_NINO_QTR:QTR_NAME:C_NINO_QTR").json()
        assert [child["id"] for child in valueset["children"]] == [quarter_value(q) for q in QUARTERS[:4]]
        assert get(quarter_value(REFERENCE)).json()["errorType"] == "unknownId"
        refused = post({**all_quarters, "recodes": {QUARTER_FIELD: {"map": [[quarter_value(REFERENCE)]]}}})
        assert (refused.status_code, refused.json()["errorType"]) == (400, "unknownId")
        in_year = post({**all_quarters, "recodes": {QUARTER_FIELD: {
            "map": [[quarter_value(q)] for q in QUARTERS[:4]], "total": True}}}).json()
        records = world.records
        assert in_year["cubes"][MEASURE]["values"][-1] == recount(records.filter(pl.col("quarter") < "2003"))
        assert in_year["cubes"][MEASURE]["values"][-1] != recount(records)

        # the next release half copied (its cube cut short): the last one is still served
        copying = release(world.cube, service_root, REFERENCE)
        whole = (copying / "finest_cells.parquet").read_bytes()
        (copying / "finest_cells.parquet").write_bytes(whole[:len(whole) // 2])
        assert get(quarter_value(REFERENCE)).json()["errorType"] == "unknownId"
        assert len(get("str:valueset:Ninos:F_NINO_QTR:QTR_NAME:C_NINO_QTR").json()["children"]) == 4
        # and once it is all there, it is served, with its quarter
        (copying / "finest_cells.parquet").write_bytes(whole)
        assert get(quarter_value(REFERENCE)).json()["label"] == REFERENCE.label


# --- keys, limits and errors ---------------------------------------------------------------------------------

def assert_error(response: requests.Response, status: int, error_type: str) -> dict:
    body = response.json()
    assert (response.status_code, list(body), body["errorType"]) == (status, ["message", "errorType"], error_type)
    assert response.headers["content-type"] == JSON_MEDIA_TYPE
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def test_a_missing_or_unknown_api_key_is_refused_on_every_endpoint(base_url):
    for method, endpoint in (("GET", "info"), ("GET", "rate_limit"), ("GET", "schema"),
                             ("GET", "schema/str:database:Ninos"), ("POST", "table")):
        assert_error(requests.request(method, base_url + endpoint), 403, "forbidden")
        assert_error(requests.request(method, base_url + endpoint, headers={"APIKey": "not-a-key"}), 403,
                     "forbidden")


def test_keys_are_read_again_when_the_file_changes(world, tmp_path):
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("first\n", encoding="utf-8")
    settings = ServiceSettings(service_root=world.home.service, api_keys_file=keys_file)
    with serving_in_thread(settings) as url:
        assert requests.get(url + "info", headers={"APIKey": "first"}).status_code == 200
        keys_file.write_text("second-key\n", encoding="utf-8")  # the first revoked, another issued
        assert_error(requests.get(url + "info", headers={"APIKey": "first"}), 403, "forbidden")
        assert requests.get(url + "info", headers={"APIKey": "second-key"}).status_code == 200


def post_table(url: str, body, **kwargs) -> requests.Response:
    return requests.post(url + "table", headers={"APIKey": KEYS[1], **kwargs.pop("headers", {})},
                         **({"data": body} if isinstance(body, (bytes, str)) or hasattr(body, "__next__")
                            else {"json": body}), **kwargs)


@pytest.mark.parametrize(("body", "status", "error_type"), [
    (b"{not json", 422, "badRequest"),
    (b"\xff\xfe", 422, "badRequest"),
    ([1, 2], 422, "badRequest"),
    ({"database": DATABASE, "measures": MEASURE, "dimensions": [[SEX_FIELD]]}, 422, "badRequest"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [SEX_FIELD]}, 422, "badRequest"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD], [SEX_FIELD]]}, 422, "badRequest"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]],
      "recodes": {SEX_FIELD: {"map": [], "total": True}}}, 422, "badRequest"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]],
      "recodes": {SEX_FIELD: {"map": [["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:F"]], "total": "yes"}}},
     422, "badRequest"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]],
      "recodes": {AGE_FIELD: {"map": [[band_value("Less than 18")]]}}}, 422, "badRequest"),
    ({"database": "str:database:UC_Households", "measures": [MEASURE], "dimensions": [[SEX_FIELD]]},
     400, "unknownId"),
    ({"database": DATABASE, "measures": ["str:count:Ninos:V_F_OTHER"], "dimensions": [[SEX_FIELD]]},
     400, "unknownId"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [["str:field:Ninos:V_F_NINOS:NOSUCH"]]},
     400, "unknownId"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]],
      "recodes": {SEX_FIELD: {"map": [["str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX:X"]]}}}, 400, "unknownId"),
    ({"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]],
      "recodes": {SEX_FIELD: {"map": [[band_value("Less than 18")]]}}}, 422, "badRequest"),
])
def test_a_bad_table_request_gets_its_error_as_json(base_url, body, status, error_type):
    assert_error(post_table(base_url, body), status, error_type)


def test_an_unknown_schema_id_is_a_400_and_an_unknown_endpoint_a_404(base_url):
    headers = {"APIKey": KEYS[1]}
    assert_error(requests.get(base_url + "schema/str:field:Ninos:V_F_NINOS:NOSUCH", headers=headers), 400,
                 "unknownId")
    assert_error(requests.get(base_url + "nowhere", headers=headers), 404, "notFound")
    assert_error(requests.get(base_url + "table", headers=headers), 405, "methodNotAllowed")


def test_the_table_endpoint_takes_a_trailing_slash(base_url):
    body = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]]}
    with_slash = requests.post(base_url + "table/", json=body, headers={"APIKey": KEYS[1]}, allow_redirects=False)
    assert with_slash.status_code == 200
    assert with_slash.json() == post_table(base_url, body).json()


def test_an_oversized_body_is_refused_whether_or_not_it_declares_its_length(world):
    with serving_in_thread(world.settings(max_body_bytes=2_000)) as url:
        padding = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]], "padding": "x" * 5_000}
        body = assert_error(post_table(url, padding), 413, "requestTooLarge")
        assert "2,000" in body["message"]
        chunked = (part for part in [json.dumps(padding)[:3_000].encode(), b"x" * 3_000])  # no Content-Length
        assert_error(post_table(url, chunked), 413, "requestTooLarge")
        assert post_table(url, {key: value for key, value in padding.items() if key != "padding"}).ok


def test_a_table_above_the_cell_limit_is_refused_before_it_is_counted(world):
    every_la = [[la_value(member["code"])] for member in world.manifest["dimensions"]["geography"]["local_authority"]]
    body = {"database": DATABASE, "measures": [MEASURE], "dimensions": [[GEOGRAPHY_FIELD], [NATIONALITY_FIELD],
                                                                       [AGE_FIELD], [QUARTER_FIELD]],
            "recodes": {GEOGRAPHY_FIELD: {"map": every_la, "total": True}}}
    cells = (len(every_la) + 1) * 230 * 11 * len(QUARTERS)
    with serving_in_thread(world.settings()) as url:  # the default limit: 1,000,000 cells
        refused = assert_error(post_table(url, body), 422, "cellLimitExceeded")
        assert f"{cells:,}" in refused["message"] and "1,000,000" in refused["message"]
    with serving_in_thread(world.settings(cell_limit=22)) as url:
        small = {**body, "recodes": None}
        assert post_table(url, {**small, "dimensions": [[AGE_FIELD], [SEX_FIELD]]}).ok  # 11 x 2 cells
        assert_error(post_table(url, {**small, "dimensions": [[AGE_FIELD], [SEX_FIELD], [QUARTER_FIELD]]}), 422,
                     "cellLimitExceeded")


def test_each_key_has_its_own_rate_limit_and_is_told_when_it_resets(world):
    clock = [1_800_000_000.0]
    with serving_in_thread(world.settings(rate_limit=3, rate_window_seconds=60, clock=lambda: clock[0])) as url:
        def info(key):
            return requests.get(url + "info", headers={"APIKey": key})

        answers = [info(KEYS[0]) for _ in range(3)]
        assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["2", "1", "0"]
        assert {(answer.headers["X-RateLimit"], answer.headers["X-RateLimit-Reset"]) for answer in answers} == {
            ("3", str(int((clock[0] + 60) * 1000)))}
        refused = info(KEYS[0])
        assert_error(refused, 429, "rateLimitExceeded")
        assert (refused.headers["X-RateLimit-Remaining"], refused.headers["X-RateLimit-Reset"]) == (
            "0", str(int((clock[0] + 60) * 1000)))
        assert requests.get(url + "rate_limit", headers={"APIKey": KEYS[0]}).json() == {
            "remaining": 0, "reset": int((clock[0] + 60) * 1000), "limit": 3}
        assert info(KEYS[1]).status_code == 200  # another key's window is its own
        clock[0] += 60
        assert info(KEYS[0]).headers["X-RateLimit-Remaining"] == "2"


def test_an_unexpected_failure_is_a_json_500_without_its_trace(world, monkeypatch):
    from nino_assets.service import cube

    def broken(*_):
        raise RuntimeError("internal detail that must not reach a client")

    monkeypatch.setattr(cube.CubeTables, "perturbed_cells", broken)
    with serving_in_thread(world.settings()) as url:
        answer = post_table(url, {"database": DATABASE, "measures": [MEASURE], "dimensions": [[SEX_FIELD]]})
        assert_error(answer, 500, "internalError")
        assert "internal detail" not in answer.text
