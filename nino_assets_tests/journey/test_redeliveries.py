"""A quarter delivered again: the ledger says which delivery each layer holds, and a quarter whose layers hold
different deliveries (a redelivery whose run stopped at a failed check) is not published."""

import hashlib

import dagster as dg

from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, JOURNEY_TO_QA, resources
from nino_assets.ingest.scan_format import file_name
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.pipeline_world import Record, write_records, write_world
from nino_assets_tests.support.warehouse import query, range_tags

Q1 = Quarter(2002, 1)
ADULTS = [Record(nino=f"AB{number:06d}C") for number in range(30)]


def run(home, selection=JOURNEY_TO_QA):
    return dg.materialize([*ALL_ASSETS, *ALL_CHECKS], selection=selection, resources=resources(home),
                          tags=range_tags([Q1]), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def delivery(home):
    return hashlib.sha256((home.scans / file_name(Q1.label)).read_bytes()).hexdigest()


def held(home):
    return dict(query(home, "SELECT layer, delivery_sha256 FROM quality.layer_deliveries WHERE quarter = '2002-Q1'"))


def test_an_empty_redelivery_stopped_by_its_check_leaves_the_layers_named_and_nothing_is_published(nino_home):
    write_world(nino_home, {Q1: ADULTS})
    first = run(nino_home)
    assert first.success
    old = delivery(nino_home)
    layers = {"raw_scan", "registrations", "geocoded_registrations", "finest_cells", "perturbed_counts"}
    assert held(nino_home) == dict.fromkeys(layers, old)
    [materialization] = first.asset_materializations_for_node("registrations")
    assert materialization.metadata["deliveries"].value == {"2002-Q1": old[:12]}

    write_records(nino_home, Q1, [])  # a corrected scan with no data rows: valid header, "T|0"
    new = delivery(nino_home)
    again = run(nino_home)
    assert not again.success
    assert not [e for e in again.get_asset_check_evaluations() if e.check_name == "scan_not_empty"][0].passed
    assert held(nino_home) == {**dict.fromkeys(layers, old), "raw_scan": new}

    refused = run(nino_home, selection=["supplementary_tables"])
    [failure] = [event for event in refused.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.cause.message
    assert (f"2002-Q1: the layers hold different deliveries (finest_cells {old[:12]}, geocoded_registrations "
            f"{old[:12]}, perturbed_counts {old[:12]}, raw_scan {new[:12]}, registrations {old[:12]})") in message
    assert "raw_scan / scan_not_empty: failed (2002-Q1)" in message

    write_records(nino_home, Q1, ADULTS[:20])  # delivered again, whole: every layer rebuilt from it
    assert run(nino_home).success
    assert held(nino_home) == dict.fromkeys(layers, delivery(nino_home))
    assert query(nino_home, "SELECT count(*) FROM stat.registrations")[0][0] == 20
