"""The release calendar: when each quarter's statistics are published, by the team's release rules.

A release covers data to the end of a quarter (its reference quarter) and is published at release time (`RELEASE_TIME`, 09:30 UK time) on the
last Thursday of the second month after it: February, May, August, November; on the Thursday before when that week
has a bank holiday (England and Wales: the spring and summer holidays fall on the last Monday of May and August).
The date is announced at least four weeks ahead, and a date that departs from the rule says why. The calendar itself
is a file the team edits (`nino_assets/reference/data/release_calendar.csv`); this module holds the rules and checks the file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from nino_assets.shared.quarters import Quarter

UK = ZoneInfo("Europe/London")
RELEASE_TIME = time(9, 30)
"""Release time, UK time: the one place it is written. Schedules, texts and checks format it from here."""
RELEASE_TIME_TEXT = RELEASE_TIME.strftime("%H:%M")
RELEASE_TIME_CRON = f"{RELEASE_TIME.minute} {RELEASE_TIME.hour} * * *"
"""Every day at release time, for schedules that act at it (pre-release opens 24 hours before, at the same time)."""
MINIMUM_NOTICE = timedelta(weeks=4)
PRE_RELEASE_ACCESS = timedelta(hours=24)
THURSDAY = 3
MONDAY = 0


def last_weekday_of_month(year: int, month: int, weekday: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    last = first_of_next - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def bank_holiday_mondays(year: int) -> set[date]:
    """The bank holidays that can fall in a release week: the last Mondays of May and August."""
    return {last_weekday_of_month(year, 5, MONDAY), last_weekday_of_month(year, 8, MONDAY)}


def rule_release_date(reference: Quarter) -> date:
    """The release date the rule gives for a reference quarter."""
    month = 3 * reference.number + 2
    year = reference.year + (month > 12)
    month = (month - 1) % 12 + 1
    thursday = last_weekday_of_month(year, month, THURSDAY)
    if thursday - timedelta(days=THURSDAY - MONDAY) in bank_holiday_mondays(year):
        thursday -= timedelta(weeks=1)
    return thursday


@dataclass(frozen=True)
class Release:
    reference: Quarter
    release_date: date
    announced_on: date
    change_reason: str = ""

    @property
    def release_at(self) -> datetime:
        """The moment the release becomes public (UK time, aware)."""
        return datetime.combine(self.release_date, RELEASE_TIME, tzinfo=UK)

    @property
    def pre_release_from(self) -> datetime:
        return self.release_at - PRE_RELEASE_ACCESS

    def problems(self) -> list[str]:
        found = []
        if self.release_date.weekday() >= 5:
            found.append(f"{self.release_date} is a {self.release_date:%A}")
        if self.release_date - self.announced_on < MINIMUM_NOTICE:
            found.append(f"announced on {self.announced_on}, less than four weeks before {self.release_date}")
        if self.release_date != rule_release_date(self.reference) and not self.change_reason:
            found.append(f"{self.release_date} is not the rule's {rule_release_date(self.reference)} and no reason "
                         "for the change is given")
        if self.release_date <= self.reference.end:
            found.append(f"{self.release_date} is not after the end of {self.reference.label}")
        return found


class CalendarError(ValueError):
    pass


def load_calendar(path: Path) -> list[Release]:
    """The calendar file, checked: an error names the file, the line and every rule the line breaks."""
    releases, problems = [], []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                release = Release(
                    reference=Quarter.from_label(row["reference_quarter"]),
                    release_date=date.fromisoformat(row["release_date"]),
                    announced_on=date.fromisoformat(row["announced_on"]),
                    change_reason=(row.get("change_reason") or "").strip(),
                )
            except (KeyError, ValueError) as error:
                problems.append(f"{path}, line {line}: {error}")
                continue
            problems.extend(f"{path}, line {line} ({release.reference.label}): {problem}"
                            for problem in release.problems())
            releases.append(release)
    quarters = [release.reference for release in releases]
    repeated = sorted({quarter.label for quarter in quarters if quarters.count(quarter) > 1})
    if repeated:
        problems.append(f"{path}: more than one release for {', '.join(repeated)}")
    if problems:
        raise CalendarError("the release calendar breaks its rules:\n  - " + "\n  - ".join(problems))
    return sorted(releases, key=lambda release: release.reference)


def release_of(calendar: list[Release], reference: Quarter) -> Release:
    for release in calendar:
        if release.reference == reference:
            return release
    raise CalendarError(f"the release calendar has no release for {reference.label}")


def latest_published(calendar: list[Release], now: datetime) -> Release | None:
    """The latest release whose time has come."""
    public = [release for release in calendar if release.release_at <= now]
    return public[-1] if public else None
