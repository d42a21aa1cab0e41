"""The release calendar's rules, and the team's calendar file against them."""

from datetime import date

import pytest

from nino_assets.shared.quarters import Quarter
from nino_assets.reference.assets import RELEASE_CALENDAR_FILE
from nino_assets.release.calendar import CalendarError, Release, load_calendar, rule_release_date


@pytest.mark.parametrize("reference, expected", [
    (Quarter(2026, 3), date(2026, 11, 26)),  # last Thursday of November
    (Quarter(2025, 4), date(2026, 2, 26)),  # of February
    (Quarter(2025, 1), date(2025, 5, 22)),  # 29 May 2025 is in the week of the spring bank holiday (26 May)
    (Quarter(2025, 2), date(2025, 8, 21)),  # 28 Aug 2025 is in the week of the summer bank holiday (25 Aug)
    (Quarter(2026, 2), date(2026, 8, 27)),  # the summer bank holiday is 31 Aug 2026: no shift
    (Quarter(2002, 2), date(2002, 8, 22)),
])
def test_the_rule_gives_the_last_thursday_or_the_one_before_a_bank_holiday_week(reference, expected):
    assert rule_release_date(reference) == expected
    assert expected.weekday() == 3


def test_a_release_at_09_30_uk_time_with_pre_release_access_24_hours_before():
    release = Release(Quarter(2026, 1), date(2026, 5, 21), date(2026, 1, 1))
    assert release.release_at.isoformat() == "2026-05-21T09:30:00+01:00"  # British Summer Time
    assert release.pre_release_from.isoformat() == "2026-05-20T09:30:00+01:00"
    assert Release(Quarter(2026, 3), date(2026, 11, 26), date(2026, 6, 1)).release_at.utcoffset().total_seconds() == 0


def test_the_teams_calendar_keeps_the_rules():
    calendar = load_calendar(RELEASE_CALENDAR_FILE)
    assert [release.reference for release in calendar] == sorted(release.reference for release in calendar)
    assert any(release.reference == Quarter(2026, 3) for release in calendar)


def test_a_calendar_that_breaks_the_rules_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "calendar.csv"
    path.write_text(
        "reference_quarter,release_date,announced_on,change_reason\n"
        "2026-Q3,2026-11-26,2026-06-01,\n"
        "2026-Q4,2027-02-18,2027-01-28,\n"  # off the rule without a reason, three weeks' notice
        "2027-Q1,2027-05-29,2027-01-01,moved for an election\n"  # a Saturday
        "2027-Q2,2027-08-26,2027-01-01,\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarError) as refused:
        load_calendar(path)
    message = str(refused.value)
    assert f"{path}, line 3 (2026-Q4): announced on 2027-01-28, less than four weeks before 2027-02-18" in message
    assert "line 3 (2026-Q4): 2027-02-18 is not the rule's 2027-02-25 and no reason for the change is given" in message
    assert "line 4 (2027-Q1): 2027-05-29 is a Saturday" in message
    assert "line 2" not in message and "line 5" not in message


def test_a_change_with_its_reason_is_accepted(tmp_path):
    path = tmp_path / "calendar.csv"
    path.write_text("reference_quarter,release_date,announced_on,change_reason\n"
                    "2026-Q3,2026-11-19,2026-06-01,Moved a week earlier: the pre-election period\n", encoding="utf-8")
    [release] = load_calendar(path)
    assert release.change_reason.startswith("Moved a week earlier")


def test_the_teams_calendar_has_a_release_for_every_quarter_of_the_series():
    """A newcomer can publish a release of any quarter of the series: every one has its pre-announced date, by the
    rule (none of these departs from it) and announced 26 weeks ahead."""
    from nino_assets.shared.quarters import series_quarters

    calendar = {release.reference: release for release in load_calendar(RELEASE_CALENDAR_FILE)}
    for quarter in series_quarters(date.today()):
        release = calendar[quarter]
        assert release.release_date == rule_release_date(quarter) and not release.change_reason
        assert (release.release_date - release.announced_on).days == 182
