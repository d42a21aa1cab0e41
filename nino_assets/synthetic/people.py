"""Who registers, and when: registration dates, ages, dates of birth, sex and arrival dates. Vectorised numpy."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import numpy as np

from nino_assets.shared.quarters import Quarter
from nino_assets.synthetic.reference import grouped_countries

# Age at registration: (first age, last age, share). Registrations are mostly young adults coming to work or study;
# shares follow the shape of DWP's published age bands (about four in five aged 18-34).
_AGE_BANDS = (
    (16, 17, 0.008),
    (18, 19, 0.050),
    (20, 24, 0.260),
    (25, 29, 0.280),
    (30, 34, 0.170),
    (35, 39, 0.095),
    (40, 44, 0.055),
    (45, 49, 0.035),
    (50, 54, 0.022),
    (55, 59, 0.012),
    (60, 74, 0.013),
)

# Share of men by DWP sub-region, then by country where it differs: work routes skew male (South Asia, the Middle
# East), care and domestic work female (the Philippines, Thailand), refugees from Ukraine were mostly women.
_MALE_SHARE_BY_SUB_REGION = {
    "European Union EU15": 0.53,
    "European Union EU8": 0.56,
    "European Union EU2": 0.60,
    "European Union Other": 0.55,
    "Other Europe": 0.50,
    "Middle East and Central Asia": 0.72,
    "East Asia": 0.45,
    "South Asia": 0.65,
    "South East Asia": 0.40,
    "Sub-Saharan Africa": 0.52,
    "North Africa": 0.70,
    "North America": 0.50,
    "Central and South America": 0.48,
    "Oceania": 0.50,
}
_MALE_SHARE_BY_COUNTRY = {
    "PAK": 0.75, "BGD": 0.74, "AFG": 0.85, "IND": 0.62, "NPL": 0.58, "PHL": 0.30, "THA": 0.20, "UKR": 0.32,
    "RUS": 0.40, "ERI": 0.80, "SDN": 0.85, "NGA": 0.50, "ZWE": 0.42, "CHN": 0.42, "JPN": 0.45, "VNM": 0.45,
}

ARRIVAL_MISSING_SHARE = 0.08
"""Share of records with no arrival date: the field is optional at interview."""
_MEDIAN_ARRIVAL_LAG_DAYS = 75  # registration usually follows arrival by weeks to months, sometimes years
_ARRIVAL_LAG_SIGMA = 1.2
_MAX_ARRIVAL_LAG_DAYS = 20 * 365

_BANK_HOLIDAYS_MONTH_DAY = ((1, 1), (12, 25), (12, 26))  # the fixed ones; Jobcentre Plus interviews stop on them


@cache
def working_days(quarter: Quarter) -> np.ndarray:
    """The quarter's weekdays, less the fixed bank holidays, as datetime64[D]: the days registrations happen."""
    days = []
    day = quarter.start
    while day <= quarter.end:
        if day.weekday() < 5 and (day.month, day.day) not in _BANK_HOLIDAYS_MONTH_DAY:
            days.append(day)
        day += timedelta(days=1)
    return np.array(days, dtype="datetime64[D]")


def registration_dates(rng: np.random.Generator, quarter: Quarter, n: int) -> np.ndarray:
    days = working_days(quarter)
    return days[rng.integers(0, days.size, size=n)]


@cache
def _age_distribution() -> tuple[np.ndarray, np.ndarray]:
    ages, weights = [], []
    for first, last, share in _AGE_BANDS:
        span = np.arange(first, last + 1)
        # The open top band thins out with age; the others are flat within the band.
        shape = np.linspace(1.0, 0.1, span.size) if last >= 60 else np.ones(span.size)
        ages.append(span)
        weights.append(share * shape / shape.sum())
    probabilities = np.concatenate(weights)
    return np.concatenate(ages), probabilities / probabilities.sum()


def ages(rng: np.random.Generator, n: int) -> np.ndarray:
    values, probabilities = _age_distribution()
    return rng.choice(values, size=n, p=probabilities)


def _years_before(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same calendar day `years` earlier; 29 February falls back to the 28th in a common year."""
    months = days.astype("datetime64[M]")
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64)
    shifted = months - years.astype("timedelta64[M]") * 12
    month_length = ((shifted + 1).astype("datetime64[D]") - shifted.astype("datetime64[D]")).astype(np.int64)
    return shifted.astype("datetime64[D]") + np.minimum(day_of_month, month_length - 1)


def birth_dates(rng: np.random.Generator, registration: np.ndarray, age: np.ndarray) -> np.ndarray:
    """A date of birth drawn uniformly among those giving exactly `age` completed years on the registration date."""
    latest = _years_before(registration, age)
    earliest = _years_before(registration, age + 1) + np.timedelta64(1, "D")
    span = (latest - earliest).astype(np.int64) + 1
    return earliest + (rng.random(registration.size) * span).astype(np.int64)


def arrival_dates(rng: np.random.Generator, registration: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """Arrival before registration (and after birth), lognormal lag; NaT where not recorded."""
    n = registration.size
    lag = np.rint(_MEDIAN_ARRIVAL_LAG_DAYS * rng.lognormal(0.0, _ARRIVAL_LAG_SIGMA, size=n)).astype(np.int64)
    lived = (registration - birth).astype(np.int64)  # negative for a date of birth keyed after registration
    lag = np.clip(lag, 1, np.maximum(1, np.minimum(_MAX_ARRIVAL_LAG_DAYS, lived - 1)))
    arrival = registration - lag
    arrival[rng.random(n) < ARRIVAL_MISSING_SHARE] = np.datetime64("NaT")
    return arrival


@cache
def male_share_by_code() -> dict[str, float]:
    countries = grouped_countries()
    return {
        code: _MALE_SHARE_BY_COUNTRY.get(code, _MALE_SHARE_BY_SUB_REGION[sub_region])
        for code, sub_region in countries.select("iso_alpha3", "dwp_sub_region").iter_rows()
    }


def days_in_earlier_quarters(rng: np.random.Generator, quarter: Quarter, quarters_back: np.ndarray) -> np.ndarray:
    """A working day in the quarter `quarters_back` (1-4) before `quarter`, per record: late registrations."""
    out = np.empty(quarters_back.size, dtype="datetime64[D]")
    earlier = quarter
    for back in range(1, int(quarters_back.max(initial=0)) + 1):
        earlier = earlier.previous()
        chosen = quarters_back == back
        out[chosen] = registration_dates(rng, earlier, int(chosen.sum()))
    return out


def birthday_in_future(rng: np.random.Generator, registration: np.ndarray) -> np.ndarray:
    """Dates of birth after the registration date (keying errors: the registration date typed into the wrong field)."""
    return registration + rng.integers(1, 3 * 365, size=registration.size)
