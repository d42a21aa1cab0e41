"""The statistical bulletin of a release: plain-English main points and plotly charts, from the published tables only.

Every number the bulletin shows comes from the release's table CSVs, which it reads as published: it is a `Figure`: one published cell, or
a sum, difference, change or share of published cells, and it carries the cells it came from. In the page each
number is a `<span class="figure">` whose `data-` attributes name its cells and derivation, so that any reader (and
the tests) can trace it back to the tables. Charts draw table columns as they are, and each has a text description
and its data as an HTML table. Colours are the Okabe-Ito palette, distinguishable with any common colour-vision
deficiency. Prose writes periods and numbers as GOV.UK statistics do (`wording.py`): "year ending September 2026",
"610,000"; each figure keeps its exact published value in `data-exact`, and the tables hold every exact figure.
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import plotly.graph_objects as go

from nino_assets.release.calendar import Release, release_of
from nino_assets.shared.quarters import SERIES_START, Quarter
from nino_assets.release.versions import NOTE_MARKER
from nino_assets.publication.hex_map import CLASS_COLOURS, class_breaks, class_labels, class_of, load_layout
from nino_assets.publication.supplementary_tables import LAYOUTS, NOT_AVAILABLE, PUBLICATION_TITLE, TableLayout
from nino_assets.publication.wording import listed, period_in_prose, period_label, prose_count, prose_percent, quarter_period, year_ending

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
"""Okabe-Ito, darkest first: safe for colour-blind readers, and the first five keep 3:1 contrast on white."""
PLOTLY_FILE = "plotly.min.js"
TOP_NATIONALITIES = 10
TOP_LOCAL_AUTHORITIES = 3
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five")
EUROPEAN_UNION, NON_EU, OTHER_OR_UNKNOWN = "European Union", "Non-EU", "Other / unknown"
SOURCE = "Source: National Insurance number registrations of adult overseas nationals (the Migrant Workers Scan)"


@dataclass(frozen=True)
class Masthead:
    """The header block of a statistics release: its status, when it was and will next be published, who to ask."""

    status: str
    published: date
    next_release: date | None
    contact_name: str
    contact_email: str
    contact_telephone: str


def masthead(reference: Quarter, calendar: list[Release], team: list[dict[str, str]]) -> Masthead:
    """The header block of the release for `reference`: its date and the next one's from the release calendar, and
    the statistician responsible from the team file."""
    [contact] = [member for member in team if member["role"] == "statistician_responsible"]
    following = [release for release in calendar if release.reference == reference.next()]
    return Masthead("Official statistics", release_of(calendar, reference).release_date,
                    following[0].release_date if following else None,
                    contact["name"], contact["email"], contact["telephone"])


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Cell:
    """One published cell: the table (its CSV's stem), the row's label values, and the column."""

    table: str
    row: tuple[str, ...]
    column: str


@dataclass(frozen=True)
class Figure:
    """A number in the bulletin, with where it comes from: the sum of cells `a`, or a comparison of it with the sum
    of cells `b` (difference, percent change, percent share)."""

    kind: str
    a: tuple[Cell, ...]
    b: tuple[Cell, ...]
    value: float

    def html(self) -> str:
        cells = {"a": [[cell.table, list(cell.row), cell.column] for cell in self.a],
                 "b": [[cell.table, list(cell.row), cell.column] for cell in self.b]}
        return (f'<span class="figure" data-kind="{self.kind}" data-cells="{html.escape(json.dumps(cells))}" '
                f'data-exact="{self.formatted()}">{html.escape(self.prose())}</span>')

    def formatted(self) -> str:
        """The exact figure: the published count, or the percentage to one decimal place."""
        if self.kind in ("percent_change", "percent_share"):
            return f"{abs(self.value):.1f}%"
        return f"{abs(int(self.value)):,}"

    def prose(self) -> str:
        """The figure as the text says it: two or three significant figures, whole percentages."""
        if self.kind in ("percent_change", "percent_share"):
            return prose_percent(self.value)
        return prose_count(int(self.value))


def derive(kind: str, a: list[tuple[Cell, int]], b: list[tuple[Cell, int]] = ()) -> Figure:
    """The one place a bulletin number is computed from table cells."""
    total_a, total_b = sum(value for _, value in a), sum(value for _, value in b)
    value = {
        "value": lambda: total_a,
        "difference": lambda: total_a - total_b,
        "percent_change": lambda: 100 * (total_a - total_b) / total_b,
        "percent_share": lambda: 100 * total_a / total_b,
    }[kind]()
    return Figure(kind, tuple(cell for cell, _ in a), tuple(cell for cell, _ in b), value)


class ReleaseTables:
    """The release's tables as published (their CSVs), read by row labels and column heading."""

    def __init__(self, folder: Path):
        self.tables: dict[str, tuple[TableLayout, list[str], list[list[str]]]] = {}
        for layout in LAYOUTS:
            stem = f"table_{layout.number}_{layout.name}"
            with (folder / f"{stem}.csv").open(newline="", encoding="utf-8") as handle:
                header, *rows = list(csv.reader(handle))
            self.tables[layout.name] = (layout, header, rows)

    def stem(self, name: str) -> str:
        return f"table_{self.tables[name][0].number}_{name}"

    def columns(self, name: str) -> list[str]:
        layout, header, _ = self.tables[name]
        return header[len(layout.row_columns):]

    def rows(self, name: str) -> list[tuple[tuple[str, ...], dict[str, str]]]:
        layout, header, rows = self.tables[name]
        width = len(layout.row_columns)
        return [(tuple(row[:width]), dict(zip(header[width:], row[width:]))) for row in rows]

    def cell(self, name: str, row: tuple[str, ...], column: str) -> tuple[Cell, int]:
        for labels, values in self.rows(name):
            if labels == row:
                if values[column] == NOT_AVAILABLE:
                    raise ValueError(f"{name}: {row} / {column} is not available")
                return Cell(self.stem(name), row, column), int(values[column])
        raise KeyError(f"{name}: no row {row}")

    def find(self, name: str, row: tuple[str, ...], column: str) -> tuple[Cell, int] | None:
        """The cell, or None where the table has no such row or shows it as not available."""
        try:
            return self.cell(name, row, column)
        except (KeyError, ValueError):
            return None


def _change_clause(now: tuple[Cell, int], then: tuple[Cell, int], against: str) -> str:
    """", up 1,230 (4.5%) on <against>", from the two cells."""
    change = derive("difference", [now], [then])
    if change.value == 0:
        return f", the same as {against}"
    direction = "up" if change.value > 0 else "down"
    return f", {direction} {change.html()} ({derive('percent_change', [now], [then]).html()}) on {against}"


@dataclass(frozen=True)
class Chart:
    anchor: str
    title: str
    description: str
    figure: go.Figure
    table_caption: str
    table_header: list[str]
    table_rows: list[list[str]]
    table_number: int

    def html(self) -> str:
        plot = self.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{self.anchor}",
                                   config={"displayModeBar": False, "responsive": True})
        header = "".join(f'<th scope="col">{html.escape(name)}</th>' for name in self.table_header)
        body = "".join(
            "<tr>" + f'<th scope="row">{html.escape(row[0])}</th>'
            + "".join(f"<td>{html.escape(value)}</td>" for value in row[1:]) + "</tr>"
            for row in self.table_rows
        )
        return (
            f'<section aria-labelledby="{self.anchor}"><h2 id="{self.anchor}">{html.escape(self.title)}</h2>'
            f'<figure><div class="chart" role="img" aria-label="{html.escape(self.description)}">{plot}</div>'
            f"<figcaption>{html.escape(self.description)}</figcaption></figure>"
            f'<p class="source">{html.escape(SOURCE)}, Table {self.table_number} of the supplementary tables.</p>'
            f"<details><summary>Data for this chart</summary><div class=\"table-wrap\"><table>"
            f"<caption>{html.escape(self.table_caption)}</caption><thead><tr>{header}</tr></thead>"
            f"<tbody>{body}</tbody></table></div></details></section>"
        )


def _layout(figure: go.Figure, y_title: str) -> go.Figure:
    figure.update_layout(
        template="simple_white", colorway=PALETTE, font={"family": "Arial, sans-serif", "size": 14},
        margin={"l": 70, "r": 20, "t": 30, "b": 60}, height=420, legend={"orientation": "h", "y": -0.2},
        yaxis={"title": {"text": y_title}, "tickformat": ",d", "rangemode": "tozero"}, hovermode="x unified",
    )
    return figure


def series_chart(tables: ReleaseTables, discontinuities: list[dict]) -> Chart:
    rows = tables.rows("registrations_by_world_area")
    quarters = [labels[0] for labels, _ in rows]
    totals = [int(values["All nationalities"]) for _, values in rows]
    figure = go.Figure(go.Scatter(x=quarters, y=totals, mode="lines", name="All nationalities",
                                  line={"color": PALETTE[0], "width": 3}))
    numbers_by_quarter: dict[str, list[str]] = {}
    for number, item in enumerate(discontinuities, start=1):
        numbers_by_quarter.setdefault(_quarter_of(item["start_date"]), []).append(str(number))
    marked_at = sorted(quarters.index(quarter) for quarter in numbers_by_quarter if quarter in quarters)
    levels = _marker_levels(marked_at)
    for position in marked_at:
        quarter = quarters[position]
        figure.add_vline(x=position, line={"color": PALETTE[6], "dash": "dot", "width": 1})
        figure.add_annotation(x=quarter, y=1, yref="paper", text=f"[{', '.join(numbers_by_quarter[quarter])}]",
                              showarrow=False, yanchor="bottom", yshift=MARKER_ROW_PIXELS * levels[position])
    _layout(figure, "Registrations in the quarter")
    figure.update_layout(margin={"t": 30 + MARKER_ROW_PIXELS * (max(levels.values(), default=0) + 1)})
    figure.update_xaxes(type="category", nticks=12)
    marked = "; ".join(f"[{number}] {item['title']} ({quarter_period(Quarter.from_label(_quarter_of(item['start_date'])))})"
                       for number, item in enumerate(discontinuities, start=1))
    return Chart(
        "series", f"Registrations each quarter since {SERIES_START.year}",
        f"Line chart of registrations in each quarter from {quarter_period(Quarter.from_label(quarters[0]))} to "
        f"{quarter_period(Quarter.from_label(quarters[-1]))}. Dotted lines mark discontinuities: {marked}. Their "
        "effects are described below the chart.",
        figure, "Registrations by quarter (Table 1, all nationalities)", ["Quarter", "Registrations"],
        [[quarter, f"{total:,}"] for quarter, total in zip(quarters, totals)], 1,
    )


MARKER_ROW_PIXELS = 18
MARKER_SPACING = 6
"""Markers of discontinuities fewer than this many quarters apart go on separate rows above the chart."""


def _marker_levels(positions: list[int]) -> dict[int, int]:
    """The row of each marker (0 the lowest): the lowest row whose last marker is far enough to the left."""
    last_on_row: list[int] = []
    levels = {}
    for position in positions:
        row = next((row for row, last in enumerate(last_on_row) if position - last >= MARKER_SPACING),
                   len(last_on_row))
        if row == len(last_on_row):
            last_on_row.append(position)
        last_on_row[row] = position
        levels[position] = row
    return levels


def _quarter_of(iso_date: str) -> str:
    year, month = int(iso_date[:4]), int(iso_date[5:7])
    return Quarter(year, (month - 1) // 3 + 1).label


def world_area_chart(tables: ReleaseTables) -> Chart:
    rows = tables.rows("registrations_by_world_area")
    areas = [column for column in tables.columns("registrations_by_world_area")
             if column != "All nationalities" and ": " not in column]
    quarters = [labels[0] for labels, _ in rows]
    figure = go.Figure([
        go.Scatter(x=quarters, y=[int(values[area]) for _, values in rows], mode="lines", name=area,
                   line={"color": PALETTE[index % len(PALETTE)], "width": 2,
                         "dash": ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")[index % 6]})
        for index, area in enumerate(areas)
    ])
    _layout(figure, "Registrations in the quarter")
    figure.update_xaxes(type="category", nticks=12)
    return Chart(
        "world-areas", "Registrations by world area of nationality",
        f"Line chart of registrations in each quarter by world area of nationality ({', '.join(areas)}), "
        f"{quarter_period(Quarter.from_label(quarters[0]))} to {quarter_period(Quarter.from_label(quarters[-1]))}. "
        "Each area has its own colour and line style.",
        figure, "Registrations by quarter and world area (Table 1)", ["Quarter", *areas],
        [[labels[0], *(f"{int(values[area]):,}" for area in areas)] for labels, values in rows], 1,
    )


def nationality_chart(tables: ReleaseTables, top: list[tuple[str, int, int]], latest: str, before: str) -> Chart:
    names = [name for name, _, _ in top]
    figure = go.Figure([
        go.Bar(y=names, x=[previous for _, _, previous in top], name=period_label(before), orientation="h",
               marker={"color": PALETTE[5]}),
        go.Bar(y=names, x=[now for _, now, _ in top], name=period_label(latest), orientation="h",
               marker={"color": PALETTE[0]}),
    ])
    _layout(figure, "")
    figure.update_layout(barmode="group", height=520, yaxis={"autorange": "reversed", "tickformat": None},
                         xaxis={"title": {"text": "Registrations in the year"}, "tickformat": ",d"})
    latest_words, before_words = period_in_prose(latest), period_in_prose(before)
    return Chart(
        "nationalities", f"The {len(top)} nationalities with most registrations in the {latest_words}",
        f"Bar chart comparing registrations in the {latest_words} with the {before_words} for the "
        f"{len(top)} nationalities with most registrations in the latest year, largest first: {', '.join(names)}.",
        figure, "Registrations by nationality (Table 2)", ["Nationality", period_label(before), period_label(latest)],
        [[name, f"{previous:,}", f"{now:,}"] for name, now, previous in top], 2,
    )


def _count(text: str) -> int | None:
    """A table cell as a number to draw; a value not available is a gap."""
    return None if text == NOT_AVAILABLE else int(text)


def _shown(text: str) -> str:
    return text if text == NOT_AVAILABLE else f"{int(text):,}"


def region_chart(tables: ReleaseTables, latest: str, before: str) -> Chart:
    rows = tables.rows("registrations_by_region")  # in the GSS standard order of regions and nations
    regions = [labels[1] for labels, _ in rows]
    figure = go.Figure([
        go.Bar(y=regions, x=[_count(values[before]) for _, values in rows], name=period_label(before),
               orientation="h", marker={"color": PALETTE[5]}),
        go.Bar(y=regions, x=[_count(values[latest]) for _, values in rows], name=period_label(latest),
               orientation="h", marker={"color": PALETTE[0]}),
    ])
    _layout(figure, "")
    figure.update_layout(barmode="group", height=140 + 44 * len(regions),
                         yaxis={"autorange": "reversed", "tickformat": None, "automargin": True},
                         xaxis={"title": {"text": "Registrations in the year"}, "tickformat": ",d"})
    latest_words, before_words = period_in_prose(latest), period_in_prose(before)
    return Chart(
        "regions", "Registrations by region of residence",
        f"Bar chart comparing registrations in the {latest_words} with the {before_words} for each region "
        "and nation of the UK, in the standard order, and for registrations with an overseas or unknown address.",
        figure, "Registrations by region (Table 3)", ["Region", period_label(before), period_label(latest)],
        [[region, _shown(values[before]), _shown(values[latest])] for region, (_, values) in zip(regions, rows)], 3,
    )


def local_authority_rows(tables: ReleaseTables) -> list[tuple[tuple[str, ...], int]]:
    """Each row of Table 4 (local authorities, then overseas and unknown) and its registrations in the year, most
    first (then by name)."""
    rows = [(labels, int(values["All nationalities"]))
            for labels, values in tables.rows("registrations_by_local_authority")
            if values["All nationalities"] != NOT_AVAILABLE]
    return sorted(rows, key=lambda row: (-row[1], row[0][1]))


def local_authority_map(tables: ReleaseTables, reference: Quarter, rounding_base: int) -> Chart | None:
    """Registrations by local authority in the year, one equal hexagon an authority, in six shaded classes; none
    while the year begins before the series does (Table 4 shows it as not available)."""
    layout = load_layout()
    codes = {hexagon.code for hexagon in layout}
    ranked = [(labels, value) for labels, value in local_authority_rows(tables) if labels[0] in codes]  # not overseas
    if not ranked:
        return None
    counted = {labels[0]: (labels[1], value) for labels, value in ranked}
    hexagons = [hexagon for hexagon in layout if hexagon.code in counted]
    bounds = class_breaks([counted[hexagon.code][1] for hexagon in hexagons])
    names = class_labels(bounds, rounding_base)
    traces = []
    for number, (colour, name) in enumerate(zip(CLASS_COLOURS, names)):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for hexagon in hexagons:
            if class_of(counted[hexagon.code][1], bounds) == number:
                corner_x, corner_y = hexagon.corners()
                xs += [*corner_x, None]
                ys += [*corner_y, None]
        traces.append(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=colour, mode="lines", name=name,
                                 line={"color": "#505a5f", "width": 0.6}, hoverinfo="skip"))
    traces.append(go.Scatter(
        x=[hexagon.x for hexagon in hexagons], y=[hexagon.y for hexagon in hexagons], mode="markers",
        marker={"size": 9, "opacity": 0}, showlegend=False, hoverinfo="text",
        text=[f"{counted[hexagon.code][0]}: {counted[hexagon.code][1]:,}" for hexagon in hexagons]))
    figure = go.Figure(traces)
    figure.update_layout(
        template="simple_white", font={"family": "Arial, sans-serif", "size": 14}, height=760,
        margin={"l": 10, "r": 10, "t": 10, "b": 10}, hovermode="closest",
        legend={"title": {"text": "Registrations in the year"}, "x": 0, "y": 1, "traceorder": "normal"},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1},
    )
    top = listed([f"{labels[1]} ({value:,})" for labels, value in ranked[:TOP_LOCAL_AUTHORITIES]])
    period = year_ending(reference)
    return Chart(
        "local-authorities", f"Registrations by local authority, {period}",
        f"Hex map of the UK's {len(hexagons)} local authorities, one equal hexagon each, placed roughly where the "
        f"authority is, shaded by registrations in the {period} in six classes from lightest (fewest, {names[0]}) "
        f"to darkest (most, {names[-1]}). Most registrations were in {top}.",
        figure, f"Registrations by local authority, {period} (Table 4, all nationalities)",
        ["Local authority", "Registrations"], [[labels[1], f"{value:,}"] for labels, value in ranked], 4,
    )


def main_points(tables: ReleaseTables, reference: Quarter, year_before: Quarter,
                top: list[tuple[str, int, int]]) -> list[str]:
    """What users quote first: the year ending the reference quarter and its change, then the EU / non-EU split,
    then the quarter alone, the world areas, the nationalities and the local authorities with most."""
    latest, before = year_label(reference), year_label(year_before)
    age_sex, quarterly, annual = ("registrations_by_age_and_sex", "registrations_by_world_area",
                                  "registrations_by_world_area_and_year")
    points = []
    now, then = tables.find(age_sex, (latest, "All ages"), "All"), tables.find(age_sex, (before, "All ages"), "All")
    if now:
        points.append(f"In the {year_ending(reference)}, {derive('value', [now]).html()} adult overseas nationals "
                      "registered for a National Insurance number"
                      + (_change_clause(now, then, f"the {year_ending(year_before)}") if then else "") + ".")
    everyone = tables.find(annual, (latest,), "All nationalities")
    split = {group: (tables.find(annual, (latest,), group), tables.find(annual, (before,), group))
             for group in (EUROPEAN_UNION, NON_EU)}
    if everyone and all(now for now, _ in split.values()):
        clauses = [f"{derive('value', [now]).html()} ({derive('percent_share', [now], [everyone]).html()}) "
                   f"{who}" + (_change_clause(now, then, "the year before") if then else "")
                   for who, (now, then) in zip(("were EU nationals", "non-EU nationals"), split.values())]
        points.append(f"Of them, {clauses[0]}, and {clauses[1]}.")
    areas = [column for column in tables.columns(quarterly)
             if column not in ("All nationalities", NON_EU) and ": " not in column]
    last_four = [labels for labels, _ in tables.rows(quarterly)][-4:]
    total_cells = [tables.cell(quarterly, labels, "All nationalities") for labels in last_four]
    by_area = {area: [tables.cell(quarterly, labels, area) for labels in last_four] for area in areas}
    q_now = tables.cell(quarterly, (reference.label,), "All nationalities")
    q_then = tables.find(quarterly, (year_before.label,), "All nationalities")
    points.append(f"In {quarter_period(reference)} alone there were {derive('value', [q_now]).html()} registrations"
                  + (_change_clause(q_now, q_then, quarter_period(year_before)) if q_then else "") + ".")
    shares = sorted(by_area.items(), key=lambda item: -sum(value for _, value in item[1]))
    phrases = [f"nationals of {_area_phrase(area)}" + (" made up" if number == 0 else "")
               + f" {derive('percent_share', cells, total_cells).html()}" + (" of registrations" if number == 0 else "")
               for number, (area, cells) in enumerate(shares[:3])]
    points.append("Over the last four quarters, " + ", ".join(phrases[:-1]) + (" and " if len(phrases) > 1 else "")
                  + phrases[-1] + " (shares of the quarters' published totals).")
    if top:
        leading = listed([
            f"{name} ({derive('value', [tables.cell('registrations_by_nationality', row, latest)]).html()})"
            for name, row in ((name, _nationality_row(tables, name)) for name, _, _ in top[:5])
        ])
        points.append(f"The {NUMBER_WORDS[min(len(top), 5)]} nationalities with most registrations in the "
                      f"{year_ending(reference)} were {leading}.")
    codes = {hexagon.code for hexagon in load_layout()}
    authorities = [labels for labels, _ in local_authority_rows(tables) if labels[0] in codes][:TOP_LOCAL_AUTHORITIES]
    if authorities:
        named = listed([
            f"{labels[1]} ({derive('value', [tables.cell('registrations_by_local_authority', labels, 'All nationalities')]).html()})"
            for labels in authorities])
        points.append(f"The local authorities with most registrations in the {year_ending(reference)} were {named}.")
    return points


def year_label(quarter: Quarter) -> str:
    """How the tables label the year ending `quarter` (a column or row label, not prose)."""
    return f"Year to the end of {quarter.label}"


def _area_phrase(area: str) -> str:
    return {"European Union": "the European Union", "Rest of the World": "the rest of the world",
            "Other / unknown": "other or unknown nationalities"}.get(area, area)


def _nationality_row(tables: ReleaseTables, name: str) -> tuple[str, ...]:
    return next(labels for labels, _ in tables.rows("registrations_by_nationality") if labels[2] == name)


def top_nationalities(tables: ReleaseTables, latest: str, before: str) -> list[tuple[str, int, int]]:
    rows = [(labels[2], int(values[latest]), int(values[before]))
            for labels, values in tables.rows("registrations_by_nationality")
            if values[latest] != NOT_AVAILABLE and values[before] != NOT_AVAILABLE]
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:TOP_NATIONALITIES]


STYLE = """
body { font-family: Arial, sans-serif; font-size: 1.1rem; line-height: 1.5; color: #0b0c0c; margin: 0; }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 1rem; }
header { border-bottom: 4px solid #0072B2; }
a { color: #005ea5; } a:focus { outline: 3px solid #ffbf47; }
.skip-link { position: absolute; left: -999px; } .skip-link:focus { left: 1rem; top: 1rem; background: #fff; }
.figure { font-weight: bold; }
.chart { width: 100%; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 1rem 0; } caption { text-align: left; font-weight: bold; }
th, td { border-bottom: 1px solid #b1b4b6; padding: 0.25rem 0.75rem; text-align: right; }
th[scope=row], thead th:first-child { text-align: left; }
figcaption, .note, .source { color: #505a5f; } .source { font-size: 1rem; }
.status { font-weight: bold; text-transform: uppercase; letter-spacing: 0.05em; }
.masthead { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
.masthead dt { font-weight: bold; } .masthead dd { margin: 0; }
"""


def render(tables: ReleaseTables, reference: Quarter, discontinuities: list[dict], rounding_base: int,
           masthead: Masthead) -> str:
    """The bulletin page. The same tables give the same text."""
    year_before = reference
    for _ in range(4):
        year_before = year_before.previous()
    latest, before = year_label(reference), year_label(year_before)
    top = top_nationalities(tables, latest, before)
    charts = [series_chart(tables, discontinuities), world_area_chart(tables),
              nationality_chart(tables, top, latest, before), region_chart(tables, latest, before)]
    charts += [chart for chart in [local_authority_map(tables, reference, rounding_base)] if chart]
    points = "".join(f"<li>{point}</li>" for point in main_points(tables, reference, year_before, top))
    breaks = "".join(
        f"<li>[{number}] <strong>{html.escape(item['title'])}</strong> "
        f"({quarter_period(Quarter.from_label(_quarter_of(item['start_date'])))}): "
        f"{html.escape(item['description'])}</li>" for number, item in enumerate(discontinuities, start=1))
    contents = "".join(f'<li><a href="#{chart.anchor}">{html.escape(chart.title)}</a></li>' for chart in charts)
    title = f"{PUBLICATION_TITLE}: {year_ending(reference)}"
    first = Quarter.containing(SERIES_START)
    next_release = _day(masthead.next_release) if masthead.next_release else "to be announced"
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
<script src="{PLOTLY_FILE}" charset="utf-8"></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header><p class="status">{html.escape(masthead.status)}</p><h1>{html.escape(title)}</h1>
<dl class="masthead">
<dt>Published</dt><dd>{_day(masthead.published)}</dd>
<dt>Next release</dt><dd>{next_release}</dd>
<dt>Period covered</dt><dd>{first.start:%B %Y} to {reference.end:%B %Y}</dd>
<dt>Contact</dt><dd>{html.escape(masthead.contact_name)},
<a href="mailto:{html.escape(masthead.contact_email)}">{html.escape(masthead.contact_email)}</a>,
telephone {html.escape(masthead.contact_telephone)}</dd>
</dl>
<p>Registrations of adult overseas nationals for a National Insurance number (NINo). Figures are perturbed and
rounded to the nearest {rounding_base} to protect confidentiality; the text rounds them further for reading, and the
supplementary tables give each one exactly.</p>
<nav aria-label="Contents"><h2>Contents</h2><ul><li><a href="#main-points">Main points</a></li>{contents}
<li><a href="#discontinuities">Discontinuities in the series</a></li>
<li><a href="#quality">Strengths, limitations and comparisons</a></li><li><a href="#about">About these statistics</a></li>
</ul></nav></header>
<main id="main">
{NOTE_MARKER}
<section aria-labelledby="main-points"><h2 id="main-points">Main points</h2><ul>{points}</ul></section>
{"".join(chart.html() for chart in charts)}
<section aria-labelledby="discontinuities"><h2 id="discontinuities">Discontinuities in the series</h2>
<p>Changes in who may work in the UK, and events that stopped or delayed registrations, break the series. The
quarterly chart marks them:</p><ul>{breaks}</ul></section>
<section aria-labelledby="quality"><h2 id="quality">Strengths, limitations and comparisons</h2>
<h3>Strengths</h3><ul><li>A count of every registration of an adult overseas national, quarterly since {SERIES_START:%B %Y},
from the administrative system that allocates the numbers, with geography down to the local authority.</li>
<li>Published quarterly to a pre-announced timetable; the whole series is rebuilt by the same code each time.</li></ul>
<h3>Limitations</h3><ul><li>Each count is of registrations: a person is counted when their NINo is registered,
which can be weeks, months or in some cases years after they arrived in the UK. The statistics say nothing about how
long people stay or whether they leave.</li>
<li>Only adult overseas nationals who register for a NINo are counted: mostly people coming to work, and also those
claiming benefits or tax credits, and dependants of visa holders who register (changes in how the Home Office
requests NINos for dependants break the series; see the discontinuities above). People who already hold a NINo,
such as those given one as children in the UK, are not counted.</li>
<li>Counts are perturbed and rounded, so tables may not add to their totals and small changes may not be real.</li></ul>
<h3>Comparisons with other migration sources</h3><ul><li>NINo registrations measure the in-flow of adult overseas
nationals registering for a NINo, short-term and long-term stayers alike, including people already in the UK who
had not needed a number before: one of several sources on migration. The Office for National Statistics'
long-term international migration estimates count people staying at least 12 months, on a different basis, so the
two are not directly comparable.</li>
<li>Home Office visa statistics count permissions to enter; many visa holders never register for a NINo, and EU
nationals arriving before 2021 needed no visa.</li></ul></section>
<section aria-labelledby="about"><h2 id="about">About these statistics</h2>
<p>Methodology: the <a href="../tables/">supplementary tables</a> (ODS and CSV) hold every figure in this bulletin; the
notes sheet explains each table. The cell key method and rounding protect confidentiality, as in DWP's
Stat-Xplore. Contact: {html.escape(masthead.contact_name)},
<a href="mailto:{html.escape(masthead.contact_email)}">{html.escape(masthead.contact_email)}</a>.</p></section>
</main>
<footer><p class="note">Produced by nino-stats from the published tables of the release for
{quarter_period(reference)}.</p></footer>
</body>
</html>
"""
