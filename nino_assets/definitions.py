"""The nino-stats code location: every asset of the data journey, and the resources configured in one place."""

from __future__ import annotations

import dagster as dg

from nino_assets.checks import build_suite_checks
from nino_assets.clean import REGISTRATIONS, clean_assets
from nino_assets.cubes import FINEST_CELLS, cube_assets
from nino_assets.disclosure import PERTURBED_COUNTS, DisclosureControl, disclosure_assets
from nino_assets.geography import GEOCODED_REGISTRATIONS, geography_assets
from nino_assets.ingest import QUARTERLY_DATA_JOB, RAW_SCAN, ingest_assets, landing_sensor
from nino_assets.partitions import quarterly_partitions
from nino_assets.paths import NinoHome
from nino_assets.publication import Release, publication_assets
from nino_assets.reference import reference_assets
from nino_assets.release import (
    PRE_RELEASE_JOB,
    PUBLICATION_JOB,
    RELEASE_OUTPUTS_JOB,
    ReleaseTimetable,
    pre_release_bundle,
    public_release,
    qa_report,
    release_assets,
    release_schedules,
    sign_off,
)
from nino_assets.rule_checks import rule_checks
from nino_assets.warehouse import Warehouse

# Every asset of the warehouse, from the reference tables to the perturbed counts; then the outputs built from it.
WAREHOUSE_ASSETS = [
    *reference_assets,
    *ingest_assets,
    *clean_assets,
    *geography_assets,
    *cube_assets,
    *disclosure_assets,
]
ALL_ASSETS = [*WAREHOUSE_ASSETS, *publication_assets, *release_assets]

# The table each asset writes, by asset name: what a suite in expectations/ named after the asset validates.
TABLES_BY_ASSET = {
    table.name: table
    for table in (RAW_SCAN, REGISTRATIONS, GEOCODED_REGISTRATIONS, FINEST_CELLS, PERTURBED_COUNTS)
}
ALL_CHECKS = [*build_suite_checks(TABLES_BY_ASSET), *rule_checks]


# Release actions happen at their times, by their own jobs and schedules; every other asset is built by the main job.
RELEASE_ACTIONS = dg.AssetSelection.assets(pre_release_bundle, public_release)
JOURNEY_TO_QA = dg.AssetSelection.all() - RELEASE_ACTIONS

# The main job: every asset, every quarter, to the outputs and their QA report. `nino run` launches it over the whole
# range as one run.
main_job = dg.define_asset_job("main", selection=JOURNEY_TO_QA,
                               description="Every asset of the journey, with its checks, to the release's QA report.")
JOBS = [
    main_job,
    dg.define_asset_job(QUARTERLY_DATA_JOB, selection=dg.AssetSelection.assets(*WAREHOUSE_ASSETS),
                        partitions_def=quarterly_partitions,
                        description="A quarter's data, from its scan to the perturbed counts, with every check: "
                                    "what the landing sensor starts."),
    dg.define_asset_job(RELEASE_OUTPUTS_JOB, selection=dg.AssetSelection.assets(*publication_assets, qa_report),
                        description="A release's tables, bulletin, cube and QA report, behind the publication gate."),
    dg.define_asset_job(PRE_RELEASE_JOB, selection=dg.AssetSelection.assets(pre_release_bundle),
                        description="Pre-release access, 24 hours before release time."),
    dg.define_asset_job(PUBLICATION_JOB, selection=dg.AssetSelection.assets(public_release),
                        description="The release made public, at its time."),
    sign_off,
]


def resources(home: NinoHome) -> dict[str, object]:
    """The resources of a data folder: the one place where the warehouse file and the landing area are chosen."""
    return {
        "nino_home": home,
        "warehouse": Warehouse(database=str(home.warehouse)),
        "disclosure_control": DisclosureControl(),
        "release": Release(),
        "release_timetable": ReleaseTimetable(),
    }


def build_definitions(home: NinoHome, **resource_overrides) -> dg.Definitions:
    return dg.Definitions(assets=ALL_ASSETS, asset_checks=ALL_CHECKS, jobs=JOBS, schedules=release_schedules,
                          sensors=[landing_sensor], resources={**resources(home), **resource_overrides})


defs = build_definitions(NinoHome.from_environment())


def journey_asset_graph():
    """Every asset and check of the journey, whatever a run selects: what the publication gate reads."""
    return defs.resolve_asset_graph()
