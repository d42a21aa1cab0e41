"""The release's supplementary tables on the full synthetic series: every cell traced to a published cell, the ODS
read back by LibreOffice equal to the CSVs, and the same warehouse giving the same bytes."""

import csv
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

import dagster as dg
import pytest

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.cubes.cross_classifications import PUBLISHED, CrossClassification
from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, resources
from nino_assets.disclosure.assets import DisclosureControl
from nino_assets.publication.ods import MIMETYPE, Sheet, ods_bytes
from nino_assets.publication.supplementary_tables import FIRST_FULL_YEAR, LAYOUTS, NOT_AVAILABLE
from nino_assets.shared.nino_home import NinoHome
from nino_assets_tests.support.warehouse import PLACED_REGISTRATIONS, derived_cells, query


@pytest.fixture(scope="module")
def release(full_series):
    reference = full_series.quarters[-1]
    folder = full_series.home.outputs / "releases" / reference.label / "tables"
    assert folder.is_dir(), "the main job did not publish the supplementary tables"
    return full_series, reference, folder


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def table_csv(folder, layout):
    return read_csv(folder / f"table_{layout.number}_{layout.name}.csv")


class Cell(NamedTuple):
    quarter: str
    period_type: str
    nationality_level: str
    nationality: str
    nationality_parent: str | None
    age_level: str
    age: str
    sex_level: str
    sex: str
    geography_level: str
    geography_code: str
    geography: str

    @property
    def key(self) -> tuple:
        """How the tables label the cell: its periods and the labels of its members (with the levels that tell
        labels of the same name apart)."""
        return (self.quarter, self.period_type, self.nationality_level, self.nationality, self.nationality_parent,
                self.age, self.sex, self.geography_level, self.geography_code, self.geography)


@cache
def _published_cells(root: str) -> dict[Cell, int]:
    """Every published cell of the warehouse's quarters, made afresh once: each derived from the finest cells
    (`derived_cells`), perturbed by the reference ptable (Python, not the SQL rule) and rounded to 10."""
    home = NinoHome(root=root)
    ptable = DisclosureControl().ptable()
    quarters = [label for (label,) in query(home, "SELECT DISTINCT quarter FROM stat.finest_cells")]
    rows = query(home, f"""
        SELECT p.quarter, p.period_type, n.level, n.label, nationality_parent.label, a.level, a.label, s.level, s.label,
               g.level, g.code, g.label, p.registrations, p.cell_key
        FROM derived_cells($quarters, $published, {RECORD_KEY_RANGE}) AS p
        JOIN stat.cube_dimensions AS n ON n.member_id = p.nationality_member
        LEFT JOIN stat.cube_dimensions AS nationality_parent ON nationality_parent.member_id = n.parent_member_id
        JOIN stat.cube_dimensions AS a ON a.member_id = p.age_member
        JOIN stat.cube_dimensions AS s ON s.member_id = p.sex_member
        JOIN stat.cube_dimensions AS g ON g.member_id = p.geography_member""",
                 {"quarters": quarters, "published": [classification.as_struct() for classification in PUBLISHED]})
    return {Cell(*row[:-2]): (ptable.perturb(row[-2], row[-1] % ptable.key_range) + 5) // 10 * 10 for row in rows}


def published(home, keep: Callable[[Cell], bool]) -> dict:
    """The published cells that `keep` selects, made afresh (`_published_cells`), keyed as the tables label them."""
    return {cell.key: value for cell, value in _published_cells(home.root).items() if keep(cell)}


def test_every_numeric_cell_is_a_multiple_of_10_from_a_perturbed_cell(release):
    series, reference, folder = release
    home = series.home
    year_before = reference
    for _ in range(4):
        year_before = year_before.previous()
    checked = 0

    def expect(cells: dict, key: tuple, value: str):
        nonlocal checked
        assert value != NOT_AVAILABLE and int(value) % 10 == 0
        assert int(value) == cells.get(key, 0), key  # a cell not stored had no registrations: published as 0
        checked += 1

    # Table 1: quarter x nationality (all, EU or non-EU, world area, subgroup); the EU group and world area of the
    # same name hold the same records, so the same published cell
    cells = published(home, lambda c: c.period_type == "quarter" and c.age_level == c.sex_level == c.geography_level
                                           == "total" and c.nationality_level != "country")
    by_label = {}
    for (quarter, _, level, label, parent, *_), value in cells.items():
        column = {"total": "All nationalities", "world_area": label, "eu_group": label}.get(level, f"{parent}: {label}")
        by_label[(quarter, column)] = value
    header, *rows = table_csv(folder, LAYOUTS[0])
    assert [row[0] for row in rows] == [quarter.label for quarter in series.quarters]
    assert header.index("European Union") < header.index("Non-EU") < header.index("Asia")
    for row in rows:
        for column, value in zip(header[1:], row[1:]):
            expect(by_label, (row[0], column), value)

    # Table 2: nationality, year before and year to the reference quarter
    cells = published(home, lambda c: c.period_type == "year_ending" and c.age_level == c.sex_level == c.geography_level
                                           == "total" and c.nationality_level == "country")
    by_label = {(quarter, label): value for (quarter, _, _, label, *_), value in cells.items()}
    header, *rows = table_csv(folder, LAYOUTS[1])
    assert header[3:] == [f"Year to the end of {year_before.label}", f"Year to the end of {reference.label}"]
    for row in rows:
        for quarter, value in ((year_before, row[3]), (reference, row[4])):
            expect(by_label, (quarter.label, row[2]), value)

    # Table 3: region, both years
    cells = published(home, lambda c: c.period_type == "year_ending" and c.age_level == c.sex_level
                                           == c.nationality_level == "total" and c.geography_level == "region")
    by_label = {(quarter, label): value for (quarter, *_, label), value in cells.items()}
    header, *rows = table_csv(folder, LAYOUTS[2])
    assert len(rows) == 14  # 12 regions and nations of the UK, overseas, unknown
    for row in rows:
        for quarter, value in ((year_before, row[2]), (reference, row[3])):
            expect(by_label, (quarter.label, row[1]), value)

    # Table 4: local authority x world area, year to the reference quarter
    cells = published(home, lambda c: c.quarter == reference.label and c.period_type == "year_ending"
                                           and c.age_level == c.sex_level == "total"
                                           and c.geography_level == "local_authority"
                                           and c.nationality_level in ("total", "world_area"))
    by_label = {(code, "All nationalities" if level == "total" else label): value
                for (_, _, level, label, _, _, _, _, code, _), value in cells.items()}
    header, *rows = table_csv(folder, LAYOUTS[3])
    assert len(rows) == 361 + 2
    for row in rows:
        for column, value in zip(header[4:], row[4:]):
            expect(by_label, (row[0], column), value)

    # Table 5: years to the reference quarter's quarter x age band x sex
    cells = published(home, lambda c: c.period_type == "year_ending" and c.nationality_level == c.geography_level
                                           == "total")
    by_label = {(f"Year to the end of {quarter}", "All ages" if age == "Total" else age,
                 "All" if sex == "Total" else sex): value
                for (quarter, _, _, _, _, age, sex, *_), value in cells.items()}
    header, *rows = table_csv(folder, LAYOUTS[4])
    years = {row[0] for row in rows}
    assert len(years) == reference.year - FIRST_FULL_YEAR.year + (1 if reference.number == 4 else 0)
    for row in rows:
        for column, value in zip(header[2:], row[2:]):
            expect(by_label, (row[0], row[1], column), value)

    # Table 6: years ending the reference quarter's quarter x world area and non-EU
    cells = published(home, lambda c: c.period_type == "year_ending"
                                           and c.nationality_level in ("total", "eu_group", "world_area")
                                           and c.age_level == c.sex_level == c.geography_level == "total")
    by_label = {(f"Year to the end of {quarter}", "All nationalities" if level == "total" else area): value
                for (quarter, _, level, area, *_), value in cells.items()}
    header, *rows = table_csv(folder, LAYOUTS[5])
    assert header[1:4] == ["All nationalities", "European Union", "Non-EU"] and header[-1] == "Other / unknown"
    assert [row[0] for row in rows] == [f"Year to the end of {year}-Q{reference.number}"
                                        for year in range(FIRST_FULL_YEAR.year + (reference.number < 4),
                                                          reference.year + 1)]
    for row in rows:
        for column, value in zip(header[1:], row[1:]):
            expect(by_label, (row[0], column), value)
    assert checked > 5000


def test_the_nationality_lookup_lists_each_nationality_once_in_its_groups(release):
    series, _, folder = release
    expected = {nationality: [subgroup, area, group] for nationality, subgroup, area, group in query(
        series.home, "SELECT DISTINCT nationality, subgroup, world_area, eu_group FROM reference.nationalities")}
    header, *rows = table_csv(folder, LAYOUTS[6])
    assert header == ["Nationality", "Subgroup", "World area", "EU or non-EU"]
    assert {row[0]: row[1:] for row in rows} == expected and len(rows) == len(expected)
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)


def test_no_unperturbed_count_reaches_the_tables(release):
    """Table 4's cells are the published values, which differ from the rounded unperturbed counts often enough that
    a table built from those counts would be caught."""
    series, reference, folder = release
    by_area = CrossClassification("year_ending", geography_level="local_authority")
    rounded_counts = {cell[5]: (count + 5) // 10 * 10
                      for cell, (count, _) in derived_cells(series.home, [reference], [by_area]).items()}
    published_totals = dict(query(series.home, f"""
        SELECT g.code, p.published_value
        FROM stat.perturbed_counts AS p JOIN stat.cube_dimensions AS g ON g.member_id = p.geography_member
        WHERE p.quarter = '{reference.label}' AND p.period_type = 'year_ending' AND p.nationality_level = 'total'
          AND p.age_level = 'total' AND p.sex_level = 'total' AND p.geography_level = 'local_authority'"""))
    header, *rows = table_csv(folder, LAYOUTS[3])
    shown = {row[0]: int(row[4]) for row in rows}
    assert header[4] == "All nationalities"
    assert all(shown[code] == value for code, value in published_totals.items())
    differing = sum(1 for code, value in rounded_counts.items() if shown[code] != value)
    assert differing > 0.05 * len(rounded_counts), differing  # noise of up to 3 moves about 1 cell in 10


def test_libreoffice_reads_the_workbook_back_equal_to_the_csvs(release, tmp_path):
    _, reference, folder = release
    workbook = folder / f"nino-supplementary-tables-{reference.label}.ods"
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir",
         str(tmp_path), str(workbook)],
        check=True, capture_output=True, timeout=300,
    )
    sheets = {path.stem.removeprefix(workbook.stem + "-"): read_csv(path) for path in tmp_path.glob("*.csv")}
    assert list(sheets) and {"Cover", "Contents", "Notes"} <= set(sheets)
    for layout in LAYOUTS:
        title, description, *table = sheets[layout.sheet_name]
        assert title[0].startswith(("Registrations by", "Nationality lookup"))
        assert description[0].startswith("This worksheet contains one")
        assert table == table_csv(folder, layout), layout.sheet_name
    contents = sheets["Contents"]
    assert [row[0] for row in contents[3:]] == ["Notes", *(layout.sheet_name for layout in LAYOUTS)]


def test_the_same_warehouse_gives_byte_identical_outputs(release):
    """Tables, bulletin, the service's cube and the QA report (whose checksum a signatory signs): built again from the
    same warehouse, every file has the same bytes."""
    series, _, folder = release
    release_folder = folder.parent

    def digests():
        return {str(path.relative_to(release_folder)): hashlib.sha256(path.read_bytes()).hexdigest()
                for path in sorted(release_folder.rglob("*")) if path.is_file()}

    before = digests()
    again = dg.materialize([*ALL_ASSETS, *ALL_CHECKS],
                           selection=["supplementary_tables", "bulletin", "published_cube", "qa_report"],
                           resources=resources(series.home), instance=dg.DagsterInstance.ephemeral())
    assert again.success
    assert digests() == before
    assert {"bulletin/index.html", "bulletin/plotly.min.js", "service/finest_cells.parquet",
            "service/ptable.parquet", "service/manifest.json", "qa/qa_report.md"} <= set(before) \
        and len(before) == len(LAYOUTS) + 7
    [materialization] = again.asset_materializations_for_node("supplementary_tables")
    files = materialization.metadata["files"].value.records
    assert {f"tables/{record.data['file']}": record.data["sha256"] for record in files} == {
        name: digest for name, digest in before.items() if name.startswith("tables/")}


def test_the_service_cube_holds_the_finest_cells_of_the_counted_registrations_and_no_personal_data(release):
    series, reference, folder = release
    cube = folder.parent / "service" / "finest_cells.parquet"
    columns = [name for (name,) in query(series.home, f"SELECT name FROM parquet_schema('{cube}') WHERE num_children IS NULL")]
    assert columns == ["quarter", "nationality", "age_band", "sex", "local_authority", "registrations", "cell_key"]
    # one row per non-empty cell, each with its records' count and cell key, recounted from the records
    cells = query(series.home, f"SELECT * FROM read_parquet('{cube}') ORDER BY ALL")
    recounted = query(series.home, f"""
        SELECT registration_quarter, nationality, age_band, sex, lad_code, count(*), sum(record_key) % {RECORD_KEY_RANGE}
        FROM {PLACED_REGISTRATIONS} WHERE registration_quarter <= '{reference.label}' GROUP BY ALL ORDER BY ALL""")
    assert cells == recounted and {row[0] for row in cells} == {quarter.label for quarter in series.quarters}
    manifest = json.loads((folder.parent / "service" / "manifest.json").read_text())
    assert manifest["rows"] == len(cells)
    assert set(manifest["dimensions"]) == {"nationality", "age", "sex", "geography"}
    assert len(manifest["dimensions"]["geography"]["local_authority"]) == 361 + 2


def test_a_workbook_is_an_ods_with_its_mimetype_first_and_refuses_ragged_rows():
    data = ods_bytes([Sheet("Cover", ["A title"]), Sheet("Table_1", ["T", "one table"], ["a", "b"], [["x", 10]])],
                     "title")
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype").decode() == MIMETYPE
        content = archive.read("content.xml").decode()
    assert "<table:table-header-rows>" in content and 'office:value="10"' in content
    with pytest.raises(ValueError, match="row 1: 1 cells under 2 column headers"):
        Sheet("Table_1", ["T"], ["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="at most 31 characters"):
        Sheet("Table/1", ["T"])
