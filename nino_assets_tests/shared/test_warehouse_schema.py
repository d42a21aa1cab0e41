"""A warehouse table built by another version (other columns or types) is refused, not written into with casts."""

import dataclasses

import duckdb
import pytest

from nino_assets.clean.assets import REGISTRATIONS
from nino_assets.shared.warehouse import WarehouseSchemaError, ensure_table


def _with_column_type(table, name, sql_type):
    return dataclasses.replace(table, columns=tuple(
        dataclasses.replace(column, sql_type=sql_type) if column.name == name else column for column in table.columns))


def test_a_table_is_created_once_and_then_found_as_defined():
    connection = duckdb.connect()
    connection.execute(f"CREATE SCHEMA {REGISTRATIONS.schema}")
    ensure_table(connection, REGISTRATIONS)
    ensure_table(connection, REGISTRATIONS)
    [(columns,)] = connection.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = 'registrations'"
                                      ).fetchall()
    assert columns == len(REGISTRATIONS.columns)


def test_a_registrations_table_of_an_earlier_version_is_refused_naming_the_column():
    connection = duckdb.connect()
    connection.execute(f"CREATE SCHEMA {REGISTRATIONS.schema}")
    # the registrations as an earlier version made them: the pseudonym as 64 hex characters
    connection.execute(_with_column_type(REGISTRATIONS, "pseudonym", "VARCHAR").create_statement())
    with pytest.raises(WarehouseSchemaError) as refused:
        ensure_table(connection, REGISTRATIONS)
    message = str(refused.value)
    assert "stat.registrations" in message and "pseudonym VARCHAR" in message and "pseudonym UHUGEINT" in message
    assert "backfill" in message


def test_a_table_with_a_column_missing_is_refused():
    connection = duckdb.connect()
    connection.execute(f"CREATE SCHEMA {REGISTRATIONS.schema}")
    fewer = dataclasses.replace(REGISTRATIONS, columns=REGISTRATIONS.columns[:-1])
    connection.execute(fewer.create_statement())
    with pytest.raises(WarehouseSchemaError, match=REGISTRATIONS.columns[-1].name):
        ensure_table(connection, REGISTRATIONS)
