"""The supplementary tables of a release: what each table holds, and how the ODS workbook around them reads.

Every table is drawn from published cells only (`stat.perturbed_counts.published_value`: perturbed, then rounded to
the rounding base) by its query in `sql/publication/supplementary_tables/<table>.sql` (but the nationality lookup, whose cells are the
groupings' names). A query returns its row label columns (named
as the table heads them), `row_order`, and one row per cell: `column_order`, `column_label`, `value`. The layout
here spreads those cells into the table's columns; it never computes a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from nino_assets.publication.ods import Sheet
from nino_assets.shared.package_files import sql_text
from nino_assets.shared.quarters import SERIES_START, Quarter

NOT_AVAILABLE = "[x]"
PUBLICATION_TITLE = "National Insurance number allocations to adult overseas nationals"
FIRST_FULL_YEAR = Quarter.containing(SERIES_START).next().next().next()
"""The first year-ending quarter whose whole year is in the series (2002-Q4)."""

SERIES_START_TEXT = SERIES_START.strftime("%B %Y")


def notes(rounding_base: int) -> tuple[tuple[str, str], ...]:
    """The notes sheet, numbered as the tables cite them."""
    return (
        ("Note 1", "Counts are registrations of adult overseas nationals for a National Insurance number (NINo), in "
                   "the period of their registration date. A person is counted once, at their first registration."),
        ("Note 2", "To protect confidentiality every count is perturbed by the cell key method (as in DWP's "
                   f"Stat-Xplore) and then rounded to the nearest {rounding_base}. Totals are perturbed from their own "
                   "records, so the cells of a table may not sum to its totals, and the same cell is the same in every "
                   "table."),
        ("Note 3", "0 means no registrations, or so few that the perturbed count rounds to 0."),
        ("Note 4", f"{NOT_AVAILABLE} means not available: the year begins before the series does "
                   f"({SERIES_START_TEXT})."),
        ("Note 5", "Area is the area of the address recorded at registration. Overseas registration: an address "
                   "outside the UK. Unknown: no address, or one that could not be matched to an area."),
        ("Note 6", "World areas and subgroups of nationality follow DWP's present-day groupings, applied to every "
                   "quarter of the series so that it stays comparable: a country is shown in its group of today (for "
                   "example the European Union) whatever the date of registration, including quarters before it "
                   "joined. Non-EU: nationals of every world area but the European Union, other and unknown "
                   "nationalities excluded; its figure is perturbed from its own records, so it need not equal the sum "
                   "of its world areas."),
    )


@dataclass(frozen=True)
class TableLayout:
    number: int
    name: str
    title: str
    row_columns: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def sheet_name(self) -> str:
        return f"Table_{self.number}"

    def query(self) -> str:
        return sql_text(self.name)


LAYOUTS = (
    TableLayout(1, "registrations_by_world_area", "Registrations by quarter of registration and world area and "
                "subgroup of nationality, with non-EU nationals together, {first} to {reference}", ("Quarter",),
                ("Note 1", "Note 2", "Note 6")),
    TableLayout(2, "registrations_by_nationality", "Registrations by nationality, year to the end of {reference} "
                "and the year before", ("World area", "Subgroup", "Nationality"),
                ("Note 1", "Note 2", "Note 3", "Note 4", "Note 6")),
    TableLayout(3, "registrations_by_region", "Registrations by region of residence, year to the end of "
                "{reference} and the year before", ("Country", "Region"), ("Note 1", "Note 2", "Note 4", "Note 5")),
    TableLayout(4, "registrations_by_local_authority", "Registrations by local authority of residence and world "
                "area of nationality, year to the end of {reference}",
                ("Area code", "Local authority", "Region", "Country"), ("Note 1", "Note 2", "Note 3", "Note 5")),
    TableLayout(5, "registrations_by_age_and_sex", "Registrations by age band and sex, years to the end of the "
                "quarter {quarter_of_year} since {first_full_year}", ("Period", "Age band"),
                ("Note 1", "Note 2", "Note 3")),
    TableLayout(6, "registrations_by_world_area_and_year", "Registrations by world area of nationality, with non-EU "
                "nationals together, years to the end of the quarter {quarter_of_year} since {first_full_year}",
                ("Period",),
                ("Note 1", "Note 2", "Note 3", "Note 6")),
    TableLayout(7, "nationality_lookup", "Nationality lookup: the subgroup, world area and EU or non-EU group each "
                "nationality is counted in", ("Nationality",), ("Note 6",)),
)


@dataclass(frozen=True)
class PublishedTable:
    layout: TableLayout
    title: str
    frame: pl.DataFrame
    """The table as published: row label columns, then one column per published cell column (text or integer)."""

    def rows(self) -> list[list[str | int]]:
        return [[_cell(value) for value in row] for row in self.frame.iter_rows()]


def _cell(value: str) -> str | int:
    return int(value) if value.lstrip("-").isdigit() else value


def release_parameters(reference: Quarter) -> dict[str, str]:
    year_before = reference
    for _ in range(4):
        year_before = year_before.previous()
    return {
        "reference_quarter": reference.label,
        "year_before_quarter": year_before.label,
        "first_full_year_quarter": FIRST_FULL_YEAR.label,
    }


def build_table(connection: duckdb.DuckDBPyConnection, layout: TableLayout, reference: Quarter) -> PublishedTable:
    cells = connection.sql(layout.query(), params=_used(layout.query(), release_parameters(reference))).pl()
    columns = cells.select("column_order", "column_label").unique().sort("column_order")["column_label"].to_list()
    frame = (
        cells.with_columns(pl.col("value").cast(pl.String))
        .pivot(on="column_label", index=["row_order", *layout.row_columns], values="value")
        .sort("row_order")
        .select(*layout.row_columns, *columns)
    )
    title = layout.title.format(first=Quarter.containing(SERIES_START).label, reference=reference.label,
                                quarter_of_year=f"Q{reference.number}", first_full_year=FIRST_FULL_YEAR.year)
    return PublishedTable(layout, title, frame)


def _used(query: str, parameters: dict[str, str]) -> dict[str, str]:
    """DuckDB refuses named parameters a query does not use."""
    return {name: value for name, value in parameters.items() if f"${name}" in query}


def workbook_sheets(tables: list[PublishedTable], reference: Quarter, rounding_base: int) -> list[Sheet]:
    """Cover, contents and notes sheets, then one sheet per table, as official statistics spreadsheets are laid out."""
    first = Quarter.containing(SERIES_START).label
    cover = Sheet("Cover", [
        f"{PUBLICATION_TITLE}: supplementary tables, {first} to {reference.label}",
        "These tables accompany the statistical bulletin on National Insurance number allocations to adult overseas "
        "nationals entering the UK.",
        f"Coverage: registrations from {first} to {reference.label}, by quarter or by year.",
        "Source: the Migrant Workers Scan, extracted from the National Insurance and PAYE Service (NPS).",
        f"Statistical disclosure control: the cell key method, then rounding to the nearest {rounding_base} (see the "
        "Notes sheet).",
        "A CSV file of each table is published beside this workbook.",
        "Contact: nino-statistics@example.gov.uk",
    ], column_widths_cm=[30.0])
    contents = Sheet(
        "Contents",
        ["Contents", "This worksheet contains one table."],
        header=["Sheet", "Table title", "Notes"],
        rows=[["Notes", "Notes used in the tables", ""]]
        + [[table.layout.sheet_name, table.title, ", ".join(table.layout.notes)] for table in tables],
        column_widths_cm=[3.0, 22.0, 8.0],
    )
    notes_sheet = Sheet("Notes", ["Notes", "This worksheet contains one table."], header=["Note number", "Note text"],
                        rows=[list(note) for note in notes(rounding_base)], column_widths_cm=[3.0, 30.0])
    table_sheets = [
        Sheet(
            table.layout.sheet_name,
            [table.title, "This worksheet contains one table. Notes: " + ", ".join(table.layout.notes) + "."],
            header=list(table.frame.columns),
            rows=table.rows(),
        )
        for table in tables
    ]
    return [cover, contents, notes_sheet, *table_sheets]
