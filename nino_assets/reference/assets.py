"""Reference stage: versioned classifications and lookups, each with its source and vintage."""


import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from nino_assets.shared.nino_home import NinoHome
from nino_assets.release.calendar import PRE_RELEASE_ACCESS, RELEASE_TIME, RELEASE_TIME_TEXT, load_calendar
from nino_assets.shared.tables import REFERENCE, Column, Table
from nino_assets.shared.warehouse import Warehouse, count_rows, ensure_table, replace_table, sql_text

REFERENCE_DATA = Path(__file__).resolve().parent / "data"
OWNERS = ["team:nino-production"]
GROUP = "reference"

LOCAL_AUTHORITIES = Table(
    schema=REFERENCE,
    name="local_authorities",
    description="UK local authority districts with region and country.",
    columns=(
        Column("lad_code", "VARCHAR", "Local authority district code (December 2023).", nullable=False),
        Column("lad_name", "VARCHAR", "Local authority district name."),
        Column("region_code", "VARCHAR", "Region code; Wales, Scotland and Northern Ireland are their own region."),
        Column("region_name", "VARCHAR", "Region name."),
        Column("country_code", "VARCHAR", "Country code (England, Wales, Scotland, Northern Ireland)."),
        Column("country_name", "VARCHAR", "Country name."),
        Column("population_mid_2020", "BIGINT", "Mid-2020 population estimate, on 2023 boundaries."),
    ),
    primary_key=("lad_code",),
)

NATIONALITIES = Table(
    schema=REFERENCE,
    name="nationalities",
    description="ISO countries with DWP's present-day nationality grouping and EU accession and exit dates.",
    columns=(
        Column("iso_alpha3", "VARCHAR", "ISO 3166-1 alpha-3 code, as the scan records nationality; null for Other / unknown."),
        Column("iso_alpha2", "VARCHAR", "ISO 3166-1 alpha-2 code."),
        Column("country_name", "VARCHAR", "Country name (CLDR)."),
        Column("nationality", "VARCHAR", "DWP nationality label, as published."),
        Column("subgroup", "VARCHAR", "DWP subgroup (EU14, EU8, EU2, EU Other, South Asia, ...), today's classification."),
        Column("world_area", "VARCHAR", "DWP world area (European Union, Non-European Union (Other Europe), Asia, "
               "Rest of the World), today's classification."),
        Column("eu_group", "VARCHAR", "DWP's headline split of world areas: European Union, Non-EU (every other "
               "world area), or Other / unknown."),
        Column("eu_accession_date", "DATE", "Date the country joined the EU; null if never a member."),
        Column("eu_exit_date", "DATE", "Date the country left the EU; null if it has not."),
        Column("is_uk", "BOOLEAN", "True for the United Kingdom, whose nationals are not overseas nationals."),
    ),
)

POSTCODE_LOOKUP = Table(
    schema=REFERENCE,
    name="postcode_lookup",
    description="Postcode to output area, local authority, region and country (NSPL-shaped).",
    columns=(
        Column("postcode_key", "VARCHAR", "Postcode in upper case without spaces: the matching key.", nullable=False),
        Column("pcds", "VARCHAR", "Postcode in its usual form, e.g. 'SW1A 1AA'."),
        Column("pcd7", "VARCHAR", "Postcode in the 7-character fixed-width form."),
        Column("output_area_code", "VARCHAR", "2021 Census output area."),
        Column("lad_code", "VARCHAR", "Local authority district (December 2023)."),
        Column("region_code", "VARCHAR", "Region; the country code for Wales, Scotland and Northern Ireland."),
        Column("country_code", "VARCHAR", "Country."),
    ),
    primary_key=("postcode_key",),
)


AGE_BANDS = Table(
    schema=REFERENCE,
    name="age_bands",
    description="The published bands of age at registration, in completed years.",
    columns=(
        Column("age_band", "VARCHAR", "Band label as published, e.g. '25-29', '60 or over' or 'Unknown'.",
               nullable=False),
        Column("min_age", "INTEGER", "Youngest age in the band; null for 'Unknown'. The first band's is the adult age."),
        Column("max_age", "INTEGER", "Oldest age in the band; null for the open top band."),
        Column("sort_order", "INTEGER", "Order of the band in tables.", nullable=False),
    ),
    primary_key=("age_band",),
)

DISCONTINUITIES = Table(
    schema=REFERENCE,
    name="discontinuities",
    description="Dated policy, operational and external changes that break the series.",
    columns=(
        Column("discontinuity_id", "VARCHAR", "Short identifier.", nullable=False),
        Column("start_date", "DATE", "Date the change took effect.", nullable=False),
        Column("end_date", "DATE", "Date a temporary effect ended; null if lasting."),
        Column("kind", "VARCHAR", "policy, operational or external."),
        Column("title", "VARCHAR", "Title as shown on charts."),
        Column("description", "VARCHAR", "Plain-English explanation for the bulletin."),
        Column("first_quarter", "VARCHAR", "Quarter of the start date, e.g. 2004-Q2."),
    ),
    primary_key=("discontinuity_id",),
)

TEAM_SOURCE = "Written by the nino-stats team (see nino_assets/reference/data/SOURCES.md)."


def _source_metadata(source: str, vintage: str, files: list[Path]) -> dict[str, object]:
    return {
        "source": source,
        "vintage": vintage,
        "files": dg.MetadataValue.json([str(path) for path in files]),
        "sources_document": dg.MetadataValue.path(str(REFERENCE_DATA / "SOURCES.md")),
    }


REFERENCE_SOURCES = Table(
    schema=REFERENCE,
    name="reference_sources",
    description="The SHA-256 of what each reference table was last built from (its files and its SQL).",
    columns=(
        Column("table_name", "VARCHAR", "The reference table.", nullable=False),
        Column("source_sha256", "VARCHAR", "SHA-256 over its source files' and transform's bytes.", nullable=False),
    ),
    primary_key=("table_name",),
)


def _source_checksum(table: Table, parameters: dict[str, str], rules: dict[str, object]) -> str:
    digest = hashlib.sha256(sql_text(table.name).encode())
    for _, path in sorted(parameters.items()):
        digest.update(Path(path).read_bytes())
    digest.update(repr(sorted(rules.items())).encode())
    return digest.hexdigest()


def _materialize_reference(
    warehouse: Warehouse, table: Table, parameters: dict[str, str], source_metadata: dict[str, object],
    rules: dict[str, object] | None = None,
) -> dg.MaterializeResult:
    """Build a reference table from its files (SQL parameters naming them) and the rules its SQL applies (further
    parameters), unless it was built from the same bytes and rules already: a quarter's run then costs nothing
    here, and the table's checks stand."""
    rules = rules or {}
    checksum = _source_checksum(table, parameters, rules)
    with warehouse.transaction() as connection:
        ensure_table(connection, REFERENCE_SOURCES)
        ensure_table(connection, table)
        built_from = connection.execute(
            f"SELECT source_sha256 FROM {REFERENCE_SOURCES.qualified_name} WHERE table_name = $name",
            {"name": table.name}).fetchall()
        rebuilt = built_from != [(checksum,)] or count_rows(connection, table) == 0
        if rebuilt:
            replace_table(connection, table, sql_text(table.name), {**parameters, **rules})
            connection.execute(f"INSERT OR REPLACE INTO {REFERENCE_SOURCES.qualified_name} VALUES ($name, $sha)",
                               {"name": table.name, "sha": checksum})
        row_count = count_rows(connection, table)
    return dg.MaterializeResult(
        metadata={**source_metadata, "dagster/row_count": row_count, "source_sha256": checksum,
                  "rebuilt": rebuilt, **table.definition_metadata()}
    )


POSTCODE_LOOKUP_COLUMNS = ("pcds", "pcd7", "oa21cd", "lad23cd", "rgn23cd", "ctry23cd")
"""The columns of the delivered lookup that `sql/reference/postcode_lookup.sql` reads (NSPL names)."""


class PostcodeLookupError(ValueError):
    """The delivered postcode lookup cannot be read as the lookup; the table in the warehouse is left as it was."""


def check_postcode_lookup_file(lookup_file: Path) -> None:
    """Refuse a lookup that is missing, empty or without a column the transform reads, naming the file and column."""
    if not lookup_file.exists():
        raise FileNotFoundError(f"{lookup_file}: the postcode lookup has not been delivered to the landing folder")
    with lookup_file.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
        has_rows = any(line.strip() for line in handle)
    missing = [column for column in POSTCODE_LOOKUP_COLUMNS if column not in {name.strip() for name in header}]
    if missing:
        raise PostcodeLookupError(
            f"{lookup_file}: line 1 (the header) has no column {', '.join(repr(name) for name in missing)}; the "
            f"lookup needs {', '.join(POSTCODE_LOOKUP_COLUMNS)}. Nothing was rebuilt.")
    if not has_rows:
        raise PostcodeLookupError(f"{lookup_file}: the lookup has a header but no postcodes. Nothing was rebuilt.")


@dg.asset(
    name=POSTCODE_LOOKUP.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"duckdb"},
    pool="warehouse",
    description=POSTCODE_LOOKUP.description + " Read from the landing folder, where the lookup is delivered.",
    metadata=POSTCODE_LOOKUP.definition_metadata(),
)
def postcode_lookup(warehouse: Warehouse, nino_home: NinoHome) -> dg.MaterializeResult:
    lookup_file = nino_home.postcode_lookup
    check_postcode_lookup_file(lookup_file)
    return _materialize_reference(
        warehouse,
        POSTCODE_LOOKUP,
        {"postcode_lookup_csv": str(lookup_file)},
        _source_metadata(
            "Synthetic stand-in for the ONS National Statistics Postcode Lookup, written by the synthetic scan "
            "generator: the real 361 local authorities, synthetic postcodes and output areas.",
            "synthetic, local authorities of December 2023",
            [lookup_file],
        ),
    )


@dataclass(frozen=True)
class PackagedReference:
    """A reference table loaded from files shipped in `reference/data/` by its SQL (`sql/reference/<table name>.sql`)."""

    table: Table
    files: dict[str, str]  # SQL parameter -> file name in reference/data/
    source: str
    vintage: str
    note: str = ""


def packaged_reference_asset(reference: PackagedReference) -> dg.AssetsDefinition:
    @dg.asset(
        name=reference.table.name,
        group_name=GROUP,
        owners=OWNERS,
        kinds={"duckdb"},
        pool="warehouse",
        description=f"{reference.table.description} {reference.note}".strip(),
        metadata=reference.table.definition_metadata(),
    )
    def _reference_table(warehouse: Warehouse) -> dg.MaterializeResult:
        files = {parameter: REFERENCE_DATA / name for parameter, name in reference.files.items()}
        return _materialize_reference(
            warehouse,
            reference.table,
            {parameter: str(path) for parameter, path in files.items()},
            _source_metadata(reference.source, reference.vintage, list(files.values())),
        )

    return _reference_table


PACKAGED_REFERENCES = (
    PackagedReference(
        LOCAL_AUTHORITIES,
        {"local_authorities_csv": "local_authorities.csv", "la_population_csv": "la_population.csv"},
        "ONS LAD December 2023 codes and names (ONSvisual/geo-scripts), regions from the ONS Geoportal "
        "(drkane/geo-lookups); mid-2020 populations from ONS/NRS/NISRA via mySociety. OGL v3.0 / CC-BY-4.0.",
        "LAD December 2023; population mid-2020",
    ),
    PackagedReference(
        NATIONALITIES,
        {
            "countries_csv": "countries.csv",
            "dwp_groups_csv": "dwp_nationality_groups.csv",
            "overrides_csv": "dwp_nationality_overrides.csv",
        },
        "ISO 3166-1 (datasets/country-codes, PDDL); EU dates (jfjelstul/eums, MIT); DWP nationality "
        "classification from the NINo summary tables to March 2018 (GSS-Cogs/ref_migration, OGL v3.0).",
        "ISO 2026-05 snapshot; EU membership to 2021; DWP classification 2018",
    ),
    PackagedReference(
        AGE_BANDS,
        {"age_bands_csv": "age_bands.csv"},
        TEAM_SOURCE + " Stat-Xplore's NINo age bands.",
        "2026-11",
        "Changed in nino_assets/reference/data/age_bands.csv and nowhere else.",
    ),
    PackagedReference(
        DISCONTINUITIES,
        {"discontinuities_csv": "discontinuities.csv"},
        TEAM_SOURCE + " From the changes DWP's NINo bulletins explain.",
        "2026-11",
    ),
)

RELEASE_CALENDAR = Table(
    schema=REFERENCE,
    name="release_calendar",
    description="The pre-announced releases: each reference quarter's release moment, pre-release access and "
    "announcement, with any change and its reason.",
    columns=(
        Column("reference_quarter", "VARCHAR", "The last quarter the release covers.", nullable=False),
        Column("release_date", "DATE", "The day of release.", nullable=False),
        Column("release_at", "TIMESTAMPTZ", f"The moment it becomes public: {RELEASE_TIME_TEXT} UK time.", nullable=False),
        Column("pre_release_from", "TIMESTAMPTZ", "Pre-release access opens: 24 hours before.", nullable=False),
        Column("announced_on", "DATE", "When the date was announced (at least four weeks before).", nullable=False),
        Column("change_reason", "VARCHAR", "Why the date departs from the rule, if it does."),
    ),
    primary_key=("reference_quarter",),
)
RELEASE_CALENDAR_FILE = REFERENCE_DATA / "release_calendar.csv"


@dg.asset(
    name=RELEASE_CALENDAR.name,
    group_name=GROUP,
    owners=["team:nino-publication"],
    kinds={"duckdb"},
    pool="warehouse",
    description=RELEASE_CALENDAR.description + " The file is checked against the calendar's rules "
    "(release/calendar.py) before it is loaded; an error names the line and the rule.",
    metadata=RELEASE_CALENDAR.definition_metadata(),
)
def release_calendar(warehouse: Warehouse) -> dg.MaterializeResult:
    releases = load_calendar(RELEASE_CALENDAR_FILE)
    result = _materialize_reference(
        warehouse, RELEASE_CALENDAR, {"release_calendar_csv": str(RELEASE_CALENDAR_FILE)},
        _source_metadata(TEAM_SOURCE + " Dates by the team's release rule (see release/calendar.py).", "2026-11",
                         [RELEASE_CALENDAR_FILE]),
        rules={"release_time": RELEASE_TIME, "pre_release_access": PRE_RELEASE_ACCESS},
    )
    return dg.MaterializeResult(metadata={
        **result.metadata,
        "releases": dg.MetadataValue.md("| reference quarter | release | announced | change |\n|---|---|---|---|\n" + "\n".join(
            f"| {release.reference.label} | {release.release_at:%a %d %b %Y %H:%M} | {release.announced_on} | "
            f"{release.change_reason} |" for release in releases)),
    })


reference_assets = [*(packaged_reference_asset(reference) for reference in PACKAGED_REFERENCES), postcode_lookup,
                    release_calendar]
# The warehouse tables this stage writes: a suite named after one of its assets validates that asset's table.
reference_tables = [LOCAL_AUTHORITIES, NATIONALITIES, POSTCODE_LOOKUP, AGE_BANDS, DISCONTINUITIES, REFERENCE_SOURCES,
                    RELEASE_CALENDAR]
