"""The query service's pure parts on a hand-made manifest: ids in Stat-Xplore's grammar, the embargo in the schema,
recodes read into items and classes, API keys, rate limits and which release is served."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nino_assets.shared.quarters import Quarter
from nino_assets.service.access import ApiKeys, RateLimiter, RateLimitedError
from nino_assets.service.cube import latest_release
from nino_assets.service.errors import BadRequest, CellLimitExceeded, Forbidden, UnknownId
from nino_assets.service.schema import build_schema, node_body
from nino_assets.service.tables import DEFAULT_CELL_LIMIT, grain_label, grain_of, membership_tables, read_table_query

GEOGRAPHY = "str:field:Ninos:V_F_NINOS:UK_COA"
LA = "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_LA_TO_REGION_NI"
REGION = "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_REGION_TO_COUNTRY"
QUARTER = "str:field:Ninos:F_NINO_QTR:QTR_NAME"


def member(code, parent, label=None):
    return {"code": code, "label": label or code, "parent": parent}


MANIFEST = {
    "quarters": {"first": "2002-Q1", "last": "2003-Q1"},
    "dimensions": {
        "nationality": {"total": [member("Total", None)], "eu_group": [member("European Union", "Total")],
                        "world_area": [member("European Union", "European Union")],
                        "subgroup": [member("EU14", "European Union")],
                        "country": [member("France", "EU14"), member("Serbia & Montenegro", "EU14")]},
        "age": {"total": [member("Total", None)], "band": [member("Less than 18", "Total"), member("60 or over", "Total")]},
        "sex": {"total": [member("Total", None)],
                "sex": [member("F", "Total", "Female"), member("M", "Total", "Male")]},
        "geography": {
            "total": [member("Total", None)],
            "country": [member("E92000001", "Total", "England"), member("OVERSEAS", "Total", "Overseas registration")],
            "region": [member("E12000007", "E92000001", "London"), member("E12000008", "E92000001", "South East"),
                       member("OVERSEAS", "OVERSEAS", "Overseas registration")],
            "local_authority": [member("E09000001", "E12000007", "City of London"),
                                member("E09000033", "E12000007", "Westminster"),
                                member("E07000223", "E12000008", "Adur"),
                                member("OVERSEAS", "OVERSEAS", "Overseas registration")],
        },
    },
}
ID_GRAMMAR = {
    "FOLDER": r"str:folder:[A-Za-z0-9_]+",
    "DATABASE": r"str:database:Ninos",
    "MEASURE": r"str:count:Ninos:V_F_NINOS",
    "FIELD": r"str:field:Ninos:[A-Z_]+:[A-Z_]+",
    "VALUESET": r"str:valueset:Ninos:[A-Z_]+:[A-Z_]+:[A-Z0-9_]+",
    "VALUE": r"str:value:Ninos:[A-Z_]+:[A-Z_]+:[A-Z0-9_]+:[A-Z0-9_]+",
}


@pytest.fixture
def schema():
    return build_schema(MANIFEST, Quarter(2002, 4))


def test_every_id_follows_stat_xplore_grammar_and_dwp_ids(schema):
    for node in schema.nodes.values():
        assert re.fullmatch(ID_GRAMMAR[node.type], node.id), node.id
        assert all(child in schema.nodes for child in node.children)
    assert "str:value:Ninos:V_F_NINOS:NEWNAT:C_NINO_COUNTRY:SERBIA_MONTENEGRO" in schema.nodes
    assert "str:value:Ninos:V_F_NINOS:AGE_CODE:C_NINO_AGE_BAND:60_OR_OVER" in schema.nodes
    assert schema.nodes[f"{LA}:OVERSEAS"].label == "Overseas registration"
    body = node_body(schema, "str:database:Ninos", "http://host/webapi/rest/v1/")
    assert list(body) == ["id", "label", "location", "type", "children"]
    assert body["location"] == "http://host/webapi/rest/v1/schema/str:database:Ninos"
    assert list(node_body(schema, f"{REGION}:E12000007", "http://host/")) == ["id", "label", "location", "type"]


def test_the_schema_ends_at_the_release_reference_quarter_and_is_empty_before_any_release(schema):
    quarters = schema.nodes["str:valueset:Ninos:F_NINO_QTR:QTR_NAME:C_NINO_QTR"].children
    assert [value.rsplit(":", 1)[1] for value in quarters] == ["200203", "200206", "200209", "200212"]
    assert not any(node.endswith(":200303") for node in schema.nodes)
    empty = build_schema(None, None)
    assert list(empty.nodes) == ["str:folder:root"] and not empty.nodes["str:folder:root"].children


def test_a_coarser_value_counts_the_finest_codes_below_it(schema):
    geography = schema.field_by_dimension("geography")
    codes = {value.id.rsplit(":", 1)[1]: sorted(geography.finest_codes[code] for code in value.codes)
             for values in geography.valuesets.values() for value in values if ":V_C_MASTERGEOG11_COUNTRY" in value.id}
    assert codes == {"E92000001": ["E07000223", "E09000001", "E09000033"], "OVERSEAS": ["OVERSEAS"]}


def query(schema, dimensions, recodes=None, cell_limit=DEFAULT_CELL_LIMIT):
    return read_table_query({"database": "str:database:Ninos", "measures": ["str:count:Ninos:V_F_NINOS"],
                             "dimensions": [[dimension] for dimension in dimensions], "recodes": recodes},
                            schema, cell_limit)


def test_overlapping_items_share_classes_and_the_total_is_their_union(schema):
    table = query(schema, [GEOGRAPHY], {GEOGRAPHY: {"map": [[f"{REGION}:E12000007"], [f"{LA}:E09000033",
                                                                                        f"{LA}:OVERSEAS"]],
                                                    "total": True}})
    [dimension] = table.dimensions
    assert [item.body()["type"] for item in dimension.items] == ["RecodeItem", "RecodeItem", "Total"]
    grain = grain_of(table, schema)
    assert grain == {"quarter": 0, "nationality": None, "age": None, "sex": None, "geography": 0}
    code_classes, class_items = membership_tables(table, schema, grain)
    geography = schema.field_by_dimension("geography").finest_codes
    classes = {geography[row["code"]]: row["class"] for row in code_classes.to_pylist() if row["field"] == "geography"}
    items = {}
    for row in class_items.to_pylist():
        if row["field"] == "geography":
            items.setdefault(row["class"], []).append(row["item"])
    # Westminster is in London and in the group; City of London in London only; Overseas in the group only; Adur in
    # no item, so not counted at all; every counted code is in the total (item 2)
    assert {code: items[cls] for code, cls in classes.items()} == {
        "E09000001": [0, 2], "E09000033": [0, 1, 2], "OVERSEAS": [1, 2]}
    # a field not asked for: every code in one class and one item
    assert {row["class"] for row in code_classes.to_pylist() if row["field"] == "sex"} == {0}
    assert [row for row in class_items.to_pylist() if row["field"] == "sex"] == [
        {"field": "sex", "class": 0, "item": 0}]


def test_a_table_is_read_at_the_coarsest_levels_its_items_are_made_of(schema):
    def grain(recode):
        return grain_of(query(schema, [GEOGRAPHY, QUARTER], {GEOGRAPHY: recode}), schema)

    regions = {"map": [[f"{REGION}:E12000007"], [f"{REGION}:E12000008", f"{LA}:OVERSEAS"]], "total": True}
    assert grain(regions)["geography"] == 1  # Overseas is its own region
    assert grain({"map": [[f"{REGION}:E12000007", f"{REGION}:E12000008"]]})["geography"] == 2  # all of England
    assert grain({"map": [[f"{REGION}:E12000008"], [f"{LA}:E09000033"]]})["geography"] == 0  # half of London
    by_region = grain(regions)
    assert grain_label(by_region, schema) == "total.total.total.region"
    code_classes, class_items = membership_tables(query(schema, [GEOGRAPHY, QUARTER], {GEOGRAPHY: regions}), schema,
                                                  by_region)
    # codes are the regions' numbers (London 0, South East 1, Overseas 2), each in its item and the total
    assert [(row["code"], row["class"]) for row in code_classes.to_pylist() if row["field"] == "geography"] == [
        (0, 0), (1, 1), (2, 1)]
    assert sorted((row["class"], row["item"]) for row in class_items.to_pylist() if row["field"] == "geography") == [
        (0, 0), (0, 2), (1, 1), (1, 2)]


def test_a_query_is_checked_against_the_schema(schema):
    assert query(schema, [GEOGRAPHY, QUARTER]).cells == 4 * 4
    with pytest.raises(UnknownId, match="200303"):  # after the reference quarter: no such id
        query(schema, [QUARTER], {QUARTER: {"map": [["str:value:Ninos:F_NINO_QTR:QTR_NAME:C_NINO_QTR:200303"]]}})
    with pytest.raises(BadRequest, match="asked for twice"):
        query(schema, [GEOGRAPHY, "str:valueset:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_REGION_TO_COUNTRY"])
    with pytest.raises(BadRequest, match="at least one"):
        query(schema, [])
    with pytest.raises(CellLimitExceeded, match="16 cells; the limit is 15"):
        query(schema, [GEOGRAPHY, QUARTER], cell_limit=15)


def test_api_keys_come_from_the_file_and_a_missing_file_admits_no_one(tmp_path):
    keys = ApiKeys(tmp_path / "keys.txt")
    with pytest.raises(Forbidden):
        keys.check("anything")
    (tmp_path / "keys.txt").write_text("# a comment\n\n  one  \ntwo\n", encoding="utf-8")
    assert keys.check("one") == "one" and keys.check("two") == "two"
    for refused in (None, "", "# a comment", "three"):
        with pytest.raises(Forbidden):
            keys.check(refused)


def test_the_rate_limit_is_a_window_per_key():
    now = [1000.0]
    limiter = RateLimiter(limit=2, window_seconds=10, clock=lambda: now[0])
    assert limiter.peek("a").remaining == 2  # peeking uses nothing
    assert [limiter.take("a").remaining for _ in range(2)] == [1, 0]
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("a")
    assert (refused.value.status, refused.value.state.reset_ms) == (429, 1_010_000)
    assert limiter.take("b").remaining == 1
    now[0] = 1010.0
    assert limiter.take("a").remaining == 1 and limiter.peek("a").reset_ms == 1_020_000


def test_the_service_serves_the_latest_version_of_the_latest_release(tmp_path: Path):
    assert latest_release(tmp_path / "none") is None
    for folder in ("2002-Q4/v1", "2002-Q4/v2", "2003-Q1/v1", "2003-Q1/v2", "2003-Q1/v3", "notes/v9"):
        (tmp_path / folder).mkdir(parents=True)
        if folder != "2003-Q1/v3":  # a version still being copied has no manifest yet
            (tmp_path / folder / "manifest.json").write_text("{}")
    latest = latest_release(tmp_path)
    assert (latest.reference, latest.version, latest.folder) == (Quarter(2003, 1), 2, tmp_path / "2003-Q1" / "v2")
