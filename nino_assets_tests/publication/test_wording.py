"""Periods and prose figures as GOV.UK statistics write them."""

import pytest

from nino_assets.publication.wording import (
    period_in_prose, period_label, prose_count, prose_percent, quarter_period, significant, year_ending)
from nino_assets.shared.quarters import Quarter


def test_periods_in_words():
    assert quarter_period(Quarter.from_label("2026-Q3")) == "July to September 2026"
    assert quarter_period(Quarter.from_label("2002-Q1")) == "January to March 2002"
    assert year_ending(Quarter.from_label("2026-Q3")) == "year ending September 2026"
    assert year_ending(Quarter.from_label("2025-Q4")) == "year ending December 2025"
    assert period_label("Year to the end of 2026-Q3") == "Year ending September 2026"
    assert period_label("2024-Q2") == "April to June 2024"
    assert period_in_prose("Year to the end of 2026-Q3") == "year ending September 2026"


@pytest.mark.parametrize(("exact", "shown"), [
    (612_340, "610,000"), (595_000, "600,000"), (18_760, "19,000"), (4_330, "4,300"), (870, "870"), (40, "40"),
    (1_234_560, "1,230,000"), (0, "0"), (-18_760, "19,000"),
])
def test_prose_counts_to_two_or_three_significant_figures(exact, shown):
    assert prose_count(exact) == shown


def test_a_figure_published_to_the_nearest_ten_is_not_rounded_further_below_a_hundred():
    assert significant(40) == 40 and significant(95) == 100 and significant(125) == 130


@pytest.mark.parametrize(("exact", "shown"), [(3.2, "3%"), (2.5, "3%"), (-12.49, "12%"), (0.44, "0.4%")])
def test_prose_percentages(exact, shown):
    assert prose_percent(exact) == shown
