"""The statistical definitions, pseudonyms and record keys, on hand-made records: one test a rule."""

import hashlib
import hmac

import dagster as dg
import pytest

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE, record_key
from nino_assets.definitions import WAREHOUSE_ASSETS
from nino_assets.clean.pseudonyms import DEVELOPMENT_KEY, KEY_VARIABLE, PseudonymKey
from nino_assets.shared.quarters import Quarter
from nino_assets_tests.support.warehouse import materialize_quarters, materialize_world, query
from nino_assets_tests.support.pipeline_world import Record, write_world

Q1_2002 = Quarter(2002, 1)
BASE = Record()


def counted_lines(home, quarter):
    """The line numbers of a scan's records that are counted."""
    rows = query(home, "SELECT line_number FROM stat.registrations WHERE scan_quarter = $q", {"q": quarter.label})
    return {line for (line,) in rows}


def exclusions(home):
    return dict(query(home, "SELECT reason, sum(records) FROM stat.registration_exclusions GROUP BY ALL"))


def test_each_exclusion_rule_counts_its_records_and_nothing_is_lost(nino_home):
    records = [
        BASE.but(nino="AB123456C"),  # counted
        BASE.but(nino="QQ123456C"),  # Q is never a first prefix letter
        BASE.but(nino="GB123456A"),  # GB is never allocated
        BASE.but(nino="AB12345C"),  # five digits
        BASE.but(nino="AB123457C", nationality="GBR"),
        BASE.but(nino="AB123458C", nationality="XXX"),
        BASE.but(nino="AB123459C", sex="U"),
        BASE.but(nino="AB123460C", date_of_birth=""),
        BASE.but(nino="AB123461C", date_of_birth="2002-03-01"),  # born after registration
        BASE.but(nino="AB123462C", date_of_birth="1899-01-01"),  # over 100 years before
        BASE.but(nino="AB123463C", date_of_birth="1990-01-01"),  # aged 12
        BASE.but(nino="AB123464C", registration_date="2002-04-02"),  # after the scan's quarter
        BASE.but(nino="AB123465C", registration_date="2001-12-31"),  # before the series
        BASE.but(nino="AB123466C"),
        BASE.but(nino="AB123466C", registration_date="2002-02-12"),  # the same NINo again
    ]
    result = materialize_world(nino_home, {Q1_2002: records})
    assert exclusions(nino_home) == {
        "NINo malformed": 3,
        "UK national": 1,
        "sex not recorded as F or M": 1,
        "aged under 16 at registration": 1,
        "registration dated after the scan's quarter": 1,
        "registration dated before the series starts": 1,
        "duplicate: NINo already registered": 1,
    }
    # unknowns are counted: an unrecognised nationality (line 8) and missing or impossible dates of birth (10-12);
    # the first of the duplicates is the one counted
    assert counted_lines(nino_home, Q1_2002) == {3, 8, 10, 11, 12, 16}
    assert query(nino_home, "SELECT line_number, nationality, subgroup, world_area, age, age_band "
                 "FROM stat.registrations WHERE line_number IN (8, 10, 11, 12) ORDER BY 1") == [
        (8, "Other / unknown", "Other / unknown", "Other / unknown", 21, "18-24"),
        (10, "Poland", "EU8", "European Union", None, "Unknown"),
        (11, "Poland", "EU8", "European Union", None, "Unknown"),
        (12, "Poland", "EU8", "European Union", None, "Unknown"),
    ]
    [materialization] = result.asset_materializations_for_node("registrations")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["records_in"] == len(records) == metadata["records_out"] + metadata["records_excluded"]


def test_duplicate_of_a_registration_counted_in_an_earlier_scan(nino_home):
    q2 = Q1_2002.next()
    materialize_world(
        nino_home,
        {
            Q1_2002: [BASE.but(nino="AB123456C"), BASE.but(nino="AB999999A", date_of_birth="1990-01-01")],
            q2: [
                BASE.but(nino="AB123456C", registration_date="2002-05-01"),  # counted in 2002-Q1 already
                BASE.but(nino="AB999999A", registration_date="2002-05-01"),  # excluded then (aged 12), counted now
            ],
        },
    )
    assert counted_lines(nino_home, q2) == {4}
    assert query(nino_home, "SELECT scan_quarter, reason, records FROM stat.registration_exclusions ORDER BY 1") == [
        ("2002-Q1", "aged under 16 at registration", 1),
        ("2002-Q2", "duplicate: NINo already registered", 1),
    ]
    # re-running the later quarter alone judges it against the earlier one the same way
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [q2]).success
    assert counted_lines(nino_home, q2) == {4}


@pytest.mark.parametrize(
    ("born", "registered", "scan", "age", "band"),
    [
        ("1986-03-10", "2002-03-09", Q1_2002, None, None),  # the day before the 16th birthday
        ("1986-03-10", "2002-03-10", Q1_2002, 16, "Less than 18"),  # on it
        ("1988-02-29", "2004-02-28", Quarter(2004, 1), None, None),  # leap-day birthday, day before
        ("1988-02-29", "2004-02-29", Quarter(2004, 1), 16, "Less than 18"),
        ("1984-02-29", "2002-02-28", Q1_2002, 17, "Less than 18"),  # no 29 February in 2002: 18 on 1 March
        ("1984-02-29", "2002-03-01", Q1_2002, 18, "18-24"),
        ("1962-01-01", "2002-01-01", Q1_2002, 40, "40-44"),
        ("1942-01-02", "2002-01-01", Q1_2002, 59, "55-59"),
        ("1942-01-01", "2002-01-01", Q1_2002, 60, "60 or over"),
    ],
)
def test_age_in_completed_years_and_band(nino_home, born, registered, scan, age, band):
    materialize_world(nino_home, {scan: [BASE.but(date_of_birth=born, registration_date=registered)]})
    rows = query(nino_home, "SELECT age, age_band FROM stat.registrations")
    if age is None:
        assert rows == [] and exclusions(nino_home) == {"aged under 16 at registration": 1}
    else:
        assert rows == [(age, band)]


def test_eu_membership_at_registration_is_not_the_world_area(nino_home):
    scan = Quarter(2013, 3)  # late registrations carry the earlier dates
    cases = [
        ("POL", "2004-04-30", False),
        ("POL", "2004-05-01", True),
        ("ROU", "2006-12-31", False),
        ("ROU", "2007-01-01", True),
        ("HRV", "2013-06-30", False),
        ("HRV", "2013-07-01", True),
        ("FRA", "2002-06-01", True),
        ("IND", "2013-07-01", False),
    ]
    records = [
        BASE.but(nino=f"AB{number:06d}C", nationality=code, registration_date=registered)
        for number, (code, registered, _) in enumerate(cases)
    ]
    materialize_world(nino_home, {scan: records})
    rows = query(
        nino_home,
        "SELECT nationality_code, CAST(registration_date AS VARCHAR), eu_member_at_registration, world_area, "
        "subgroup, registration_quarter, is_late_registration FROM stat.registrations ORDER BY line_number",
    )
    assert [(code, day, member) for code, day, member, *_ in rows] == cases
    assert {code: (area, subgroup) for code, _, _, area, subgroup, *_ in rows} == {
        "POL": ("European Union", "EU8"),
        "ROU": ("European Union", "EU2"),
        "HRV": ("European Union", "EU Other"),
        "FRA": ("European Union", "EU14"),
        "IND": ("Asia", "South Asia"),
    }
    # late registrations are counted in their scan's quarter, so that no published quarter changes
    assert [(quarter, late) for *_, quarter, late in rows][:2] == [("2013-Q3", True), ("2013-Q3", True)]
    assert rows[-1][-2:] == ("2013-Q3", False)


def test_pseudonyms_and_record_keys_are_keyed_stable_and_match_the_reference(nino_home, monkeypatch):
    ninos = ["AB123456C", "CE654321A", "JK112233D"]
    records = [BASE.but(nino=nino) for nino in ninos]
    materialize_world(nino_home, {Q1_2002: records})
    first = query(nino_home, "SELECT pseudonym, record_key FROM stat.registrations ORDER BY line_number")
    assert materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q1_2002]).success
    assert query(nino_home, "SELECT pseudonym, record_key FROM stat.registrations ORDER BY line_number") == first

    development = PseudonymKey(DEVELOPMENT_KEY.encode(), is_development_key=True)
    for nino, (pseudonym, key) in zip(ninos, first):
        nino_hmac = hmac.new(DEVELOPMENT_KEY.encode(), nino.encode(), hashlib.sha256).hexdigest()
        assert nino_hmac == development.nino_hmac(nino)
        # the pseudonym is the HMAC's first 128 bits; the record key its next 60, modulo N
        assert pseudonym == int(nino_hmac[:32], 16) == development.pseudonym(nino)
        assert key == record_key(nino_hmac) == int(nino_hmac[32:47], 16) % RECORD_KEY_RANGE
        # without the key, the NINo's plain hash does not lead to the pseudonym
        assert pseudonym != int(hashlib.sha256(nino.encode()).hexdigest()[:32], 16)

    monkeypatch.setenv(KEY_VARIABLE, "a production secret")
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q1_2002], instance=instance)
    rekeyed = query(nino_home, "SELECT pseudonym FROM stat.registrations ORDER BY line_number")
    assert {p for (p,) in rekeyed}.isdisjoint({p for p, _ in first})
    production = hmac.new(b"a production secret", ninos[0].encode(), hashlib.sha256).hexdigest()
    assert rekeyed[0][0] == int(production[:32], 16)
    assert not any("DEVELOPMENT key" in message for message in run_log(instance, result))


def run_log(instance, result):
    return [entry.user_message for entry in instance.all_logs(result.run_id)]


def test_development_key_is_announced_in_the_run_log(nino_home, monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    write_world(nino_home, {Q1_2002: [BASE]})
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_quarters(WAREHOUSE_ASSETS, nino_home, [Q1_2002], instance=instance)
    assert any("DEVELOPMENT key" in message for message in run_log(instance, result))


def test_the_key_is_read_from_the_file_its_variable_names(tmp_path, monkeypatch):
    key_file = tmp_path / "pseudonym_key"
    key_file.write_text("a production secret\n", encoding="utf-8")
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    monkeypatch.setenv(f"{KEY_VARIABLE}_FILE", str(key_file))
    from_file = PseudonymKey.from_environment()
    monkeypatch.delenv(f"{KEY_VARIABLE}_FILE")
    monkeypatch.setenv(KEY_VARIABLE, "a production secret")
    assert from_file == PseudonymKey.from_environment()
    assert not from_file.is_development_key
