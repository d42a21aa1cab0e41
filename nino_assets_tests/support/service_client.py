"""What the query service's tests share: the service in a thread on loopback, the NINo database's ids as DWP's
grammar spells them, a response's cells decoded, and the published tables' cells asked of the service."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import uvicorn

from nino_assets.shared.quarters import Quarter, quarters_between
from nino_assets.service.app import ServiceSettings, create_app
from nino_assets.service.schema import code_for_id
from nino_assets.publication.supplementary_tables import LAYOUTS, NOT_AVAILABLE

DATABASE, MEASURE = "str:database:Ninos", "str:count:Ninos:V_F_NINOS"
QUARTER_FIELD = "str:field:Ninos:F_NINO_QTR:QTR_NAME"
NATIONALITY_FIELD, AGE_FIELD = "str:field:Ninos:V_F_NINOS:NEWNAT", "str:field:Ninos:V_F_NINOS:AGE_CODE"
SEX_FIELD, GEOGRAPHY_FIELD = "str:field:Ninos:V_F_NINOS:CCSEX_CODE", "str:field:Ninos:V_F_NINOS:UK_COA"
VALUESETS = {
    ("nationality", "country"): "str:value:Ninos:V_F_NINOS:NEWNAT:C_NINO_COUNTRY",
    ("nationality", "subgroup"): "str:value:Ninos:V_F_NINOS:NEWNAT:C_NINO_SUBGROUP",
    ("nationality", "world_area"): "str:value:Ninos:V_F_NINOS:NEWNAT:C_NINO_WORLD_AREA",
    ("nationality", "eu_group"): "str:value:Ninos:V_F_NINOS:NEWNAT:C_NINO_EU_NON_EU",
    ("geography", "local_authority"): "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_LA_TO_REGION_NI",
    ("geography", "region"): "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_REGION_TO_COUNTRY",
    ("geography", "country"): "str:value:Ninos:V_F_NINOS:UK_COA:V_C_MASTERGEOG11_COUNTRY_TO_UK",
    ("age", "band"): "str:value:Ninos:V_F_NINOS:AGE_CODE:C_NINO_AGE_BAND",
    ("sex", "sex"): "str:value:Ninos:V_F_NINOS:CCSEX_CODE:C_NINO_CCSEX",
}


def quarter_value(quarter: Quarter) -> str:
    return f"str:value:Ninos:F_NINO_QTR:QTR_NAME:C_NINO_QTR:{quarter.year}{3 * quarter.number:02d}"


def member_value(dimension: str, level: str, code: str) -> str:
    return f"{VALUESETS[dimension, level]}:{code_for_id(code)}"


def region_value(code: str) -> str:
    return member_value("geography", "region", code)


def la_value(code: str) -> str:
    return member_value("geography", "local_authority", code)


def band_value(code: str) -> str:
    return member_value("age", "band", code)


@contextmanager
def serving_in_thread(settings: ServiceSettings) -> Iterator[str]:
    """The service under uvicorn in a thread of this process on a free loopback port, stopped at the end; yields
    its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the query service did not start"
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}/webapi/rest/v1/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def cell_at(body: dict, path: tuple[int, ...]) -> float:
    values = body["cubes"][MEASURE]["values"]
    for index in path:
        values = values[index]
    return values


def rounded(value: float) -> int:
    """As the published tables round: to the nearest 10, halves up."""
    return int(value + 5) // 10 * 10


def _year(label: str) -> list[Quarter]:
    """The quarters of the year to the end of a quarter that are in the series (from 2002-Q1)."""
    end = Quarter.from_label(label)
    return [quarter for quarter in quarters_between(Quarter(2002, 1), end)][-4:]


def _recode(groups: list[list[str]], total: bool) -> dict:
    return {"map": groups, "total": total}


def published_table_requests(tables: Path, manifest: dict, reference: Quarter) -> Iterator[tuple[str, dict, list]]:
    """For each published table: a service request covering its cells, and each numeric cell's published value
    with the path of the same cell in the response (`[x]`, not available, has no cell)."""
    dimensions = manifest["dimensions"]
    label_of = {(dimension, level, member["code"]): member["label"] for dimension, levels in dimensions.items()
                for level, members in levels.items() for member in members}
    for layout in LAYOUTS:
        with (tables / f"table_{layout.number}_{layout.name}.csv").open(newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
        width = len(layout.row_columns)
        columns = header[width:]
        # a column of all nationalities, a world area or the EU / non-EU group (by its label)
        area_values = {member["label"]: member_value("nationality", level, member["code"])
                       for level in ("eu_group", "world_area") for member in dimensions["nationality"][level]}
        if layout.number == 1:
            # quarters x (all nationalities, each world area followed by its subgroups, the non-EU total)
            groups = []
            for column in columns[1:]:
                area, _, subgroup = column.partition(": ")
                groups.append([member_value("nationality", "subgroup", subgroup) if subgroup else area_values[area]])
            quarters = [Quarter.from_label(row[0]) for row in rows]
            request = {QUARTER_FIELD: _recode([[quarter_value(q)] for q in quarters], False),
                       NATIONALITY_FIELD: _recode(groups, True)}
            order = [QUARTER_FIELD, NATIONALITY_FIELD]
            column_index = {column: (len(groups) if number == 0 else number - 1)
                            for number, column in enumerate(columns)}

            def path(row_number, column, column_index=column_index):
                return (row_number, column_index[column])
        elif layout.number in (2, 3):
            # a row per nationality (table 2) or region (table 3), a column per year
            dimension, level = ("nationality", "country") if layout.number == 2 else ("geography", "region")
            code_of = {label: code for (d, lv, code), label in label_of.items() if (d, lv) == (dimension, level)}
            members = [code_of[row[width - 1]] for row in rows]
            years = [column.removeprefix("Year to the end of ") for column in columns]
            field = NATIONALITY_FIELD if dimension == "nationality" else GEOGRAPHY_FIELD
            request = {field: _recode([[member_value(dimension, level, code)] for code in members], False),
                       QUARTER_FIELD: _recode([[quarter_value(q) for q in _year(year)] for year in years], False)}
            order = [field, QUARTER_FIELD]

            def path(row_number, column, columns=columns):
                return (row_number, columns.index(column))
        elif layout.number == 4:
            # a row per local authority, a column per world area and all nationalities, in the reference's year
            request = {GEOGRAPHY_FIELD: _recode([[la_value(row[0])] for row in rows], False),
                       NATIONALITY_FIELD: _recode([[area_values[column]] for column in columns[1:]], True),
                       QUARTER_FIELD: _recode([[quarter_value(q) for q in _year(reference.label)]], False)}
            order = [GEOGRAPHY_FIELD, NATIONALITY_FIELD, QUARTER_FIELD]

            def path(row_number, column, columns=columns):
                number = columns.index(column)
                return (row_number, len(columns) - 1 if number == 0 else number - 1, 0)
        elif layout.number == 6:
            # a row per year, a column per world area, the non-EU total and all nationalities
            years = [row[0].removeprefix("Year to the end of ") for row in rows]
            request = {QUARTER_FIELD: _recode([[quarter_value(q) for q in _year(year)] for year in years], False),
                       NATIONALITY_FIELD: _recode([[area_values[column]] for column in columns[1:]], True)}
            order = [QUARTER_FIELD, NATIONALITY_FIELD]

            def path(row_number, column, columns=columns):
                number = columns.index(column)
                return (row_number, len(columns) - 1 if number == 0 else number - 1)
        elif layout.number == 7:
            continue  # the nationality lookup holds groupings, not counts
        else:
            # a row per (year, age band), a column per sex and all
            years = list(dict.fromkeys(row[0].removeprefix("Year to the end of ") for row in rows))
            bands = [member["code"] for member in dimensions["age"]["band"]]
            request = {QUARTER_FIELD: _recode([[quarter_value(q) for q in _year(year)] for year in years], False),
                       AGE_FIELD: _recode([[band_value(band)] for band in bands], True),
                       SEX_FIELD: _recode([[member_value("sex", "sex", "F")], [member_value("sex", "sex", "M")]],
                                          True)}
            order = [QUARTER_FIELD, AGE_FIELD, SEX_FIELD]
            sex_index = {"Female": 0, "Male": 1, "All": 2}

            def path(row_number, column, rows=rows, years=years, bands=bands, sex_index=sex_index):
                period, band = rows[row_number][:2]
                return (years.index(period.removeprefix("Year to the end of ")),
                        len(bands) if band == "All ages" else bands.index(band), sex_index[column])
        cells = [(int(value), path(row_number, column)) for row_number, row in enumerate(rows)
                 for column, value in zip(columns, row[width:]) if value != NOT_AVAILABLE]
        body = {"database": DATABASE, "measures": [MEASURE], "recodes": request,
                "dimensions": [[field] for field in order]}
        yield layout.sheet_name, body, cells


def assert_published_tables_match(base_url: str, key: str, tables: Path, manifest: dict,
                                  reference: Quarter) -> dict[str, int]:
    """Every numeric cell of every published table equals the service's cell rounded to 10; cells compared by
    table."""
    compared = {}
    for sheet, body, cells in published_table_requests(tables, manifest, reference):
        response = requests.post(f"{base_url}table", json=body, headers={"APIKey": key})
        response.raise_for_status()
        answer = response.json()
        mismatches = [(published, path, cell_at(answer, path)) for published, path in cells
                      if rounded(cell_at(answer, path)) != published]
        assert not mismatches, f"{sheet}: {len(mismatches)} of {len(cells)} cells differ, e.g. {mismatches[:3]}"
        compared[sheet] = len(cells)
    return compared
