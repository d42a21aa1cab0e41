"""The publication gate across runs: a delivery refused by a blocking check in an earlier run still blocks
publication, data written since its checks ran blocks it, and publication proceeds once the data is fixed and checked
again."""

import json

import dagster as dg
from nino_assets.shared import warehouse
from nino_assets.definitions import ALL_ASSETS, ALL_CHECKS, JOURNEY_TO_QA, resources
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.warehouse import query, range_tags
from nino_assets_tests.support.pipeline_world import Record, cleaning_without_the_age_rule, write_world

Q1, Q2 = Quarter(2002, 1), Quarter(2002, 2)
ADULTS = {quarter: [Record(nino=f"A{letter}{number:06d}C", registration_date=f"{quarter.start:%Y-%m}-11")
                    for number in range(30)] for quarter, letter in ((Q1, "B"), (Q2, "E"))}
CHILD = Record(nino="CE123456A", date_of_birth="1990-06-01", registration_date="2002-05-11")  # aged 11


def run(home, instance, selection=None, quarters=(Q1, Q2)):
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], resources=resources(home), instance=instance, raise_on_error=False,
        selection=selection or JOURNEY_TO_QA, tags=range_tags(list(quarters)) if quarters else None,
    )


def publish_only(home, instance):
    """A later run that asks for publication alone, as the release schedule does."""
    return run(home, instance, selection=["supplementary_tables"], quarters=())


def refusal(result) -> str:
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "supplementary_tables"
    return failure.event_specific_data.error.cause.message


def test_a_failed_check_blocks_publication_in_later_runs_until_the_data_is_fixed(nino_home, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    write_world(nino_home, ADULTS)
    assert run(nino_home, instance).success
    tables = nino_home.outputs / "releases" / "2002-Q2" / "tables" / "nino-supplementary-tables-2002-Q2.ods"
    published = tables.read_bytes()
    # 2002-Q2 delivered again with a child in it, while the age rule is broken: its check fails
    write_world(nino_home, {Q2: [*ADULTS[Q2], CHILD]})
    with monkeypatch.context() as patched:
        patched.setattr("nino_assets.shared.warehouse.sql_text", cleaning_without_the_age_rule(warehouse.sql_text))
        first = run(nino_home, instance, quarters=(Q2,))
    assert not first.success
    assert not {e.check_name: e for e in first.get_asset_check_evaluations()}["adults_only"].passed

    second = publish_only(nino_home, instance)
    assert not second.success
    message = refusal(second)
    assert "supplementary_tables refused" in message
    assert "2002-Q2: its delivery" in message and "was refused by registrations / adults_only" in message
    assert "2002-Q1" not in message  # its delivery was accepted, and nothing of it changed
    assert tables.read_bytes() == published
    logged = json.dumps([str(entry) for entry in instance.all_logs(second.run_id)])
    assert "adults_only" in logged and "CE123456A" not in logged and "1990-06-01" not in logged

    # the fix: the age rule is back; every asset and check runs again, and publication proceeds
    third = run(nino_home, instance)
    assert third.success
    assert publish_only(nino_home, instance).success
    assert tables.exists()


def test_data_written_after_its_checks_ran_blocks_publication(nino_home):
    instance = dg.DagsterInstance.ephemeral()
    write_world(nino_home, ADULTS)
    assert run(nino_home, instance).success
    outcomes = query(nino_home, "SELECT count(*), count(*) FILTER (WHERE passed) FROM quality.check_outcomes")
    assert outcomes[0][0] == outcomes[0][1] > 0

    # one quarter of registrations written again, without its checks: its earlier outcomes no longer count
    rewritten = run(nino_home, instance, selection=dg.AssetSelection.assets("registrations").without_checks(),
                    quarters=(Q2,))
    assert rewritten.success
    message = refusal(publish_only(nino_home, instance))
    assert "registrations / adults_only: not evaluated on the data now in the warehouse (2002-Q2)" in message
    assert "registrations / records_reconcile: not evaluated" in message
    assert "raw_scan /" not in message  # raw_scan was not written again: its outcomes still hold

    assert run(nino_home, instance, selection=dg.AssetSelection.assets("registrations"), quarters=(Q2,)).success
    assert publish_only(nino_home, instance).success


def test_a_new_quarter_publishes_on_the_outcomes_of_earlier_runs(nino_home):
    """The quarterly run checks only its new quarter; the quarters before keep the outcomes of their own runs."""
    write_world(nino_home, ADULTS)
    instance = dg.DagsterInstance.ephemeral()
    assert run(nino_home, instance, quarters=(Q1,)).success
    assert query(nino_home, "SELECT DISTINCT quarter FROM quality.check_outcomes") == [("2002-Q1",)]
    assert run(nino_home, instance, quarters=(Q2,)).success
    runs = query(nino_home, "SELECT quarter, count(DISTINCT run_id) FROM quality.check_outcomes GROUP BY 1 ORDER BY 1")
    assert runs == [("2002-Q1", 1), ("2002-Q2", 1)]
    assert (nino_home.outputs / "releases" / "2002-Q2" / "tables").is_dir()


def test_a_refusal_before_anything_was_checked_says_there_is_nothing_to_publish(nino_home):
    result = publish_only(nino_home, dg.DagsterInstance.ephemeral())
    assert "there is nothing to publish" in refusal(result)
