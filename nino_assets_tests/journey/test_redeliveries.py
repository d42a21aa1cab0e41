"""A quarter delivered again is taken whole or not at all: a redelivery that a blocking check refuses, at any layer,
leaves the warehouse exactly as it was, says so, and is not published; one that passes rebuilds every layer."""

import hashlib
import json

import dagster as dg
import pytest

from nino_assets import cli
from nino_assets.cubes import assets as cubes_assets
from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, JOURNEY_TO_QA, resources
from nino_assets.ingest.scan_format import file_name
from nino_assets.shared import warehouse
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.pipeline_world import Record, cleaning_without_the_age_rule, write_records, write_world
from nino_assets_tests.support.warehouse import query, range_tags, warehouse_contents

Q1, Q2 = Quarter(2002, 1), Quarter(2002, 2)
ADULTS = [Record(record_id=str(number), nino=f"AB{number:06d}C") for number in range(30)]
SECOND = [Record(record_id=str(number), nino=f"CE{number:06d}A", registration_date="2002-05-14")
          for number in range(30)]
LAYERS = {"raw_scan", "registrations", "geocoded_registrations", "finest_cells", "perturbed_counts"}
JOURNAL = ("quality.refused_deliveries",)
"""What a refusal adds to the warehouse: the record of it; everything else is as it was."""
WHICH_RUN = {"quality.check_outcomes": ("run_id", "evaluated_at")}
"""The checks a refused run still ran after the refusal judged the data as it was again: the same outcomes, recorded
by that run."""


def contents(home):
    return warehouse_contents(home, excluding=JOURNAL, columns_ignored=WHICH_RUN)


def run(home, quarters=(Q1,), selection=JOURNEY_TO_QA):
    return dg.materialize([*ALL_ASSETS, *ALL_CHECKS], selection=selection, resources=resources(home),
                          tags=range_tags(list(quarters)), instance=dg.DagsterInstance.ephemeral(),
                          raise_on_error=False)


def delivery(home, quarter=Q1):
    return hashlib.sha256((home.scans / file_name(quarter.label)).read_bytes()).hexdigest()


def held(home, quarter=Q1):
    return dict(query(home, "SELECT layer, delivery_sha256 FROM quality.layer_deliveries WHERE quarter = $quarter",
                      {"quarter": quarter.label}))


def refusal_of_publication(home) -> str:
    refused = run(home, quarters=(Q1,), selection=["supplementary_tables"])
    [failure] = [event for event in refused.all_events if event.is_step_failure]
    return failure.step_failure_data.error.cause.message


def failed_evaluation(result, check_name):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    assert not evaluation.passed
    return evaluation


def test_an_empty_redelivery_is_refused_and_the_warehouse_is_exactly_as_it_was(nino_home):
    write_world(nino_home, {Q1: ADULTS})
    first = run(nino_home)
    assert first.success
    old = delivery(nino_home)
    assert held(nino_home) == dict.fromkeys(LAYERS, old)
    [materialization] = first.asset_materializations_for_node("registrations")
    assert materialization.metadata["deliveries"].value == {"2002-Q1": old[:12]}
    before = contents(nino_home)

    write_records(nino_home, Q1, [])  # a corrected scan with no data rows: valid header, "T|0"
    new = delivery(nino_home)
    again = run(nino_home)
    assert not again.success
    evaluation = failed_evaluation(again, "scan_not_empty")
    assert evaluation.metadata["delivery_refused"].value == {"2002-Q1": {"refused": new[:12], "kept": old[:12]}}

    assert contents(nino_home) == before
    assert held(nino_home) == dict.fromkeys(LAYERS, old)
    assert query(nino_home, "SELECT count(*) FROM stat.registrations")[0][0] == 30
    assert query(nino_home, "SELECT quarter, refused_sha256, refused_by, kept_sha256 FROM quality.refused_deliveries"
                 ) == [("2002-Q1", new, "raw_scan / scan_not_empty", old)]
    message = refusal_of_publication(nino_home)
    assert (f"2002-Q1: its delivery {new[:12]} was refused by raw_scan / scan_not_empty (run {again.run_id[:8]}"
            in message)
    assert f"the warehouse keeps the delivery last accepted, {old[:12]}: deliver the quarter again" in message
    assert "layers hold different deliveries" not in message

    write_records(nino_home, Q1, ADULTS[:20])  # delivered again, whole: every layer rebuilt from it
    assert run(nino_home).success
    assert held(nino_home) == dict.fromkeys(LAYERS, delivery(nino_home))
    assert query(nino_home, "SELECT count(*) FROM stat.registrations")[0][0] == 20
    assert query(nino_home, "SELECT count(*) FROM quality.refused_deliveries") == [(0,)]
    assert query(nino_home, "SELECT count(*) FROM quality.pending_quarters") == [(0,)]
    assert query(nino_home, "SELECT count(*) FROM raw.raw_scan__accepted") == [(0,)]


def _resent_first_quarter(home):
    write_records(home, Q2, ADULTS)  # the first quarter's records, renamed as the second's


def _child_with_the_age_rule_broken(home, monkeypatch):
    write_records(home, Q2, [*SECOND, Record(record_id="99", nino="CE999999A", date_of_birth="1990-06-01",
                                             registration_date="2002-05-11")])
    monkeypatch.setattr("nino_assets.shared.warehouse.sql_text", cleaning_without_the_age_rule(warehouse.sql_text))


@pytest.mark.parametrize(("redeliver", "refused_by"), [
    (lambda home, _: write_records(home, Q2, [Record(record_id=str(n), nino=f"CE{n:06d}A",
                                                     registration_date="14/05/2002") for n in range(30)]),
     "raw_scan / "),
    (lambda home, _: _resent_first_quarter(home), "raw_scan / delivery_is_new"),
    (_child_with_the_age_rule_broken, "registrations / adults_only"),
], ids=["dates in the wrong form", "the previous quarter resent", "refused in a later layer"])
def test_a_refused_redelivery_at_any_layer_leaves_every_layer_as_it_was(nino_home, monkeypatch, redeliver,
                                                                         refused_by):
    write_world(nino_home, {Q1: ADULTS, Q2: SECOND})
    assert run(nino_home, quarters=(Q1, Q2)).success
    old = delivery(nino_home, Q2)
    before = contents(nino_home)

    redeliver(nino_home, monkeypatch)
    new = delivery(nino_home, Q2)
    again = run(nino_home, quarters=(Q2,))
    assert not again.success
    monkeypatch.undo()

    assert contents(nino_home) == before
    assert held(nino_home, Q2) == dict.fromkeys(LAYERS, old)
    [(refused, by, kept)] = query(nino_home, "SELECT refused_sha256, refused_by, kept_sha256 "
                                  "FROM quality.refused_deliveries WHERE quarter = '2002-Q2'")
    assert (refused, kept) == (new, old) and by.startswith(refused_by)
    logged = json.dumps([str(event) for event in again.all_events])
    assert "CE000001A" not in logged and "AB000001C" not in logged and "1990-06-01" not in logged


def test_a_first_delivery_refused_leaves_nothing_of_its_quarter(nino_home, monkeypatch):
    write_world(nino_home, {Q1: ADULTS})
    assert run(nino_home).success
    before = contents(nino_home)
    write_records(nino_home, Q2, [*SECOND, Record(record_id="99", nino="CE999999A", date_of_birth="1990-06-01",
                                                  registration_date="2002-05-11")])
    monkeypatch.setattr("nino_assets.shared.warehouse.sql_text", cleaning_without_the_age_rule(warehouse.sql_text))
    result = run(nino_home, quarters=(Q2,))
    assert not result.success
    evaluation = failed_evaluation(result, "adults_only")
    assert evaluation.metadata["delivery_refused"].value == {
        "2002-Q2": {"refused": delivery(nino_home, Q2)[:12], "kept": "nothing (a first delivery)"}}
    assert contents(nino_home) == before
    assert query(nino_home, "SELECT count(*) FROM raw.raw_scan WHERE scan_quarter = '2002-Q2'") == [(0,)]


def test_a_run_that_fails_in_a_step_after_the_raw_layer_took_the_delivery_is_undone(nino_home, monkeypatch, capsys):
    """Not a check but a step fails (here the cube's SQL): `nino run` puts back what the run had written."""
    write_world(nino_home, {Q1: ADULTS, Q2: SECOND})
    assert run(nino_home, quarters=(Q1, Q2)).success
    old = delivery(nino_home, Q2)
    before = contents(nino_home)
    write_records(nino_home, Q2, SECOND[:25])
    new = delivery(nino_home, Q2)

    real_sql_text = cubes_assets.sql_text
    monkeypatch.setattr(cubes_assets, "sql_text", lambda name: "SELECT no_such_column FROM no_such_table"
                        if name == "finest_cells" else real_sql_text(name))
    monkeypatch.setenv("NINO_HOME", str(nino_home.root_path))
    monkeypatch.setenv("DAGSTER_HOME", str(nino_home.dagster_home))
    assert cli.main(["run", "--quarters", "2002-Q2"]) == 1
    printed = capsys.readouterr().out
    assert f"2002-Q2: its delivery {new[:12]} was not taken" in printed and f"the warehouse keeps {old[:12]}" in printed

    assert contents(nino_home) == before
    [(by,)] = query(nino_home, "SELECT refused_by FROM quality.refused_deliveries WHERE quarter = '2002-Q2'")
    assert by == "the run's failed step(s): finest_cells"
