"""Periods and numbers as GOV.UK statistics write them in prose: "year ending September 2026", "July to September
2026", "600,000", "19,000 (3%)". The tables keep the exact rounded figures; prose rounds them for reading."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from nino_assets.shared.quarters import Quarter


def _month(quarter: Quarter, offset: int) -> str:
    return quarter.start.replace(month=quarter.start.month + offset).strftime("%B")


def quarter_period(quarter: Quarter) -> str:
    """'July to September 2026'."""
    return f"{_month(quarter, 0)} to {_month(quarter, 2)} {quarter.end.year}"


def year_ending(quarter: Quarter) -> str:
    """'year ending September 2026': the four quarters to the end of this one."""
    return f"year ending {quarter.end:%B %Y}"


def period_in_prose(label: str) -> str:
    """A table's period label as a sentence says it: '2026-Q3' as 'July to September 2026'; 'Year to the end of
    2026-Q3' as 'year ending September 2026'."""
    prefix = "Year to the end of "
    if label.startswith(prefix):
        return year_ending(Quarter.from_label(label.removeprefix(prefix)))
    return quarter_period(Quarter.from_label(label))


def period_label(label: str) -> str:
    """The same, to head a column or a legend: 'Year ending September 2026'."""
    text = period_in_prose(label)
    return text[0].upper() + text[1:]


def significant(value: int, figures: int = 2) -> int:
    """`value` to `figures` significant figures (halves away from zero), but never below the nearest 10: a figure
    already published to the nearest 10 is not rounded away."""
    if value == 0:
        return 0
    digits = len(str(abs(value)))
    step = Decimal(10) ** max(digits - figures, 1)
    return int((Decimal(value) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def prose_count(value: int) -> str:
    """'600,000', '19,000', '4,300', '870' (two significant figures; three from a million, so that a change of a
    few per cent still shows)."""
    return f"{significant(abs(value), 3 if abs(value) >= 1_000_000 else 2):,}"


def prose_percent(value: float) -> str:
    """'3%', '12%'; '0.4%' below one per cent, so a small change does not read as none."""
    magnitude = abs(value)
    if magnitude < 1:
        return f"{magnitude:.1f}%"
    return f"{Decimal(magnitude).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def listed(items: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
