"""Reference tables are rebuilt when what they are built from changes, and only then."""

import dagster as dg

from nino_assets.definitions import resources
from nino_assets.reference.assets import reference_assets
from nino_assets_tests.support.warehouse import query
from nino_assets_tests.support.pipeline_world import write_lookup


def materialized(home) -> dict[str, dict]:
    result = dg.materialize(reference_assets, resources=resources(home))
    assert result.success
    return {event.asset_key.to_user_string(): event.materialization.metadata
            for event in result.get_asset_materialization_events()}


def test_a_reference_table_is_rebuilt_only_when_its_source_changes(nino_home):
    write_lookup(nino_home)
    first = materialized(nino_home)
    assert all(metadata["rebuilt"].value for metadata in first.values())
    second = materialized(nino_home)
    assert not any(metadata["rebuilt"].value for metadata in second.values())
    assert {name: metadata["dagster/row_count"].value for name, metadata in second.items()} == {
        name: metadata["dagster/row_count"].value for name, metadata in first.items()}

    lookup = nino_home.postcode_lookup.read_text(encoding="utf-8").splitlines()
    nino_home.postcode_lookup.write_text("\n".join(lookup[:-1]) + "\n", encoding="utf-8")  # one postcode fewer
    third = materialized(nino_home)
    assert [name for name, metadata in third.items() if metadata["rebuilt"].value] == ["postcode_lookup"]
    rows_before = first["postcode_lookup"]["dagster/row_count"].value
    assert third["postcode_lookup"]["dagster/row_count"].value == rows_before - 1
    assert third["postcode_lookup"]["source_sha256"].value != first["postcode_lookup"]["source_sha256"].value
    [(rows,)] = query(nino_home, "SELECT count(*) FROM reference.postcode_lookup")
    assert rows == third["postcode_lookup"]["dagster/row_count"].value
