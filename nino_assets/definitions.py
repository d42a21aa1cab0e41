"""The nino-stats code location: every asset of the data journey, and the resources configured in one place."""

from __future__ import annotations

import dagster as dg

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE
from nino_assets.clean.assets import clean_assets, clean_tables
from nino_assets.clean.checks import clean_checks
from nino_assets.clean.nino_format import NINO_REGEX
from nino_assets.cubes.assets import cube_assets, cube_tables
from nino_assets.disclosure.assets import DisclosureControl, disclosure_assets, disclosure_tables
from nino_assets.disclosure.checks import disclosure_checks
from nino_assets.geography.assets import geography_assets, geography_tables
from nino_assets.geography.checks import geography_checks
from nino_assets.ingest.assets import QUARTERLY_DATA_JOB, ingest_assets, ingest_tables, landing_sensor
from nino_assets.ingest.checks import ingest_checks
from nino_assets.publication.assets import Release, publication_assets
from nino_assets.publication.gate import PublicationGate
from nino_assets.reference.age_bands import ADULT_AGE, OLDEST_AGE
from nino_assets.reference.assets import reference_assets, reference_tables
from nino_assets.release.assets import (
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
from nino_assets.shared.nino_home import NinoHome
from nino_assets.shared.partitions import quarterly_partitions
from nino_assets.shared.suite_checks import SuiteParameters, build_suite_checks
from nino_assets.shared.warehouse import Warehouse

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
WAREHOUSE_TABLES = [*reference_tables, *ingest_tables, *clean_tables, *geography_tables, *cube_tables,
                    *disclosure_tables]



def suite_parameter_values(disclosure_control: DisclosureControl) -> dict[str, object]:
    """What each `$PARAMETER` of the suites stands for, read from the rule's one home."""
    return {
        "adult_age": ADULT_AGE,
        "oldest_age": OLDEST_AGE,
        "largest_key": RECORD_KEY_RANGE - 1,
        "nino_regex": NINO_REGEX,
        "blocked_values": disclosure_control.blocked_values(),
    }


SUITE_PARAMETERS = SuiteParameters(frozenset({"disclosure_control"}),
                                   lambda resources: suite_parameter_values(resources.disclosure_control))
# A suite in expectations/ validates the warehouse table of the asset it is named after.
ALL_CHECKS = [*build_suite_checks(WAREHOUSE_TABLES, SUITE_PARAMETERS), *ingest_checks, *clean_checks,
              *geography_checks, *disclosure_checks]


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


# What the publication gate requires of each asset's upstream, from the whole journey (not a run's selection).
PUBLICATION_GATE = PublicationGate.of_journey(ALL_ASSETS, ALL_CHECKS)


def resources(home: NinoHome) -> dict[str, object]:
    """The resources of a data folder: the one place where the warehouse file and the landing area are chosen."""
    return {
        "publication_gate": PUBLICATION_GATE,
        "journey": PUBLICATION_GATE.journey,  # what a delivery must pass to be accepted (shared/acceptance.py)
        "nino_home": home,
        "warehouse": Warehouse(database=str(home.warehouse)),
        "disclosure_control": DisclosureControl(),
        "release": Release(),
        "release_timetable": ReleaseTimetable(),
    }


# Every run executes its steps in its own process, one after another: the warehouse takes one writer at a time (its
# pool serialises the steps anyway), and a process per step would cost each step a fresh start of Python, Dagster and
# the code location (about 3 s, and 4 s more for Great Expectations), which in a quarter's run is most of its time.
EXECUTOR = dg.in_process_executor


def build_definitions(home: NinoHome, **resource_overrides) -> dg.Definitions:
    return dg.Definitions(assets=ALL_ASSETS, asset_checks=ALL_CHECKS, jobs=JOBS, schedules=release_schedules,
                          sensors=[landing_sensor], resources={**resources(home), **resource_overrides},
                          executor=EXECUTOR)


defs = build_definitions(NinoHome.from_environment())
