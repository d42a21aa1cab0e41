"""The perturbation table (ptable): the noise the cell key method adds to a count, indexed by (cell value, cell key).

Two sources, one layout:

- `generate_ptable` builds a table from stated parameters by the R package `ptable`'s construction (Destatis):
  row i (a cell value) draws its noise v from the candidates j - i, j in [max(i - D, 0), i + D] minus the blocked
  values 1..js, with the maximum-entropy probabilities under sum p = 1, mean 0 and variance V. The probabilities
  are cut into cumulative bounds (rounded to 8 digits, as `ptable` does) and the N integer cell keys are shared out:
  key k takes the first candidate whose upper bound exceeds k / N.
- `load_ons_ptable` reads a table in the layout of the ONS `cell-key-perturbation` package (CSV: pcv, ckey, pvalue),
  such as its 10/5 table.

Either way the lookup is a frame of (pcv, ckey, pvalue), one row per pair, joined on (pcv, ckey) in SQL; `Ptable`'s
methods are the Python reference that the SQL is tested against. Pure: numpy and polars only.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from nino_assets.cell_key.record_keys import RECORD_KEY_RANGE

BOUND_DIGITS = 8
"""Cumulative bounds are rounded to 8 digits before keys are assigned, as `ptable` writes them."""

_MOMENT_TOLERANCE = 1e-12
"""Newton stops when the mean and variance constraints hold to this; also the slack for 'V is on the boundary'."""


def _minimum_blocked_variance(smallest_published: int) -> int:
    """The least variance an unbiased row i in 1..js can have: all mass on its nearest results, 0 and js + 1,
    gives i * (js + 1 - i); the largest of these over the blocked rows bounds V from below."""
    return max((i * (smallest_published + 1 - i) for i in range(1, smallest_published + 1)), default=0)


@dataclass(frozen=True)
class PtableParameters:
    """The parameters a ptable is generated from (the names of the R package `ptable` in brackets).

    max_perturbation (D): the largest noise either way; a published count is within D of the true count.
    variance (V): the variance of the noise in every row, the measure of protection. A row that cannot reach V (its
        candidates are too few or too close: small counts near the blocked values) gets the maximum-entropy
        distribution with the largest variance it can have, which is below V.
    smallest_published (js): counts 1..js never appear after perturbation (0 may); 0 blocks nothing.
    record_key_range (N): record and cell keys are integers in [0, N); a row's probabilities are met in multiples
        of 1/N.
    """

    max_perturbation: int
    variance: float
    smallest_published: int
    record_key_range: int = RECORD_KEY_RANGE

    def __post_init__(self) -> None:
        for name in ("max_perturbation", "smallest_published", "record_key_range"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, not {value!r}")
        d, js, v, n = self.max_perturbation, self.smallest_published, self.variance, self.record_key_range
        if d < 1:
            raise ValueError(f"max_perturbation (D) must be at least 1, not {d}")
        if not 0 <= js <= d:
            # A cell of 1 must be able to move both down (to 0) and up past the blocked values (to js + 1) within D,
            # or no unbiased noise exists for it.
            raise ValueError(f"smallest_published (js) must be in 0..max_perturbation (D = {d}), not {js}")
        if not (isinstance(v, int | float | np.floating) and math.isfinite(v) and v > 0):
            raise ValueError(f"variance (V) must be a finite number above 0, not {v!r}")
        least = _minimum_blocked_variance(js)
        if v < least:
            raise ValueError(
                f"variance (V) {v} is below {least}, the least variance an unbiased noise can have for the counts "
                f"1..{js} when 1..{js} are blocked (each must move to 0 or to {js + 1} or beyond)"
            )
        if n < 2:
            raise ValueError(f"record_key_range (N) must be at least 2, not {n}")

    @property
    def ncat(self) -> int:
        """The last row: every count from here on has the full candidate range -D..D, untouched by blocking."""
        d, js = self.max_perturbation, self.smallest_published
        return d if js == 0 else d + js + 1


DEFAULT_PTABLE_PARAMETERS = PtableParameters(max_perturbation=3, variance=2.0, smallest_published=2)
"""D = 3, V = 2, js = 2, N = 4096, for NINo counts that are published rounded to the nearest 10.

- D = 3 keeps the noise below half a rounding step (5): a perturbed count rounds to the true count's rounded value
  or to an adjacent multiple of 10, never further, and only counts within 3 of a rounding boundary (x5) can move.
  A published count is within 3 of the truth.
- js = 2: counts of 1 and 2 are never shown (as in ABS TableBuilder), so no published count pins down one or two
  people; the smallest published non-zero value is 3.
- V = 2 is the least variance the blocking allows: a 1 or a 2 must move to 0 or to 3 or beyond, so rows 1 and 2
  cannot have a variance below 1 * 2 = 2 * 1 = 2. Every row reaches V = 2 exactly: rows 1 and 2 are then the
  two-point distributions on 0 and 3 (1 -> 0 with p 2/3, 3 with p 1/3; 2 -> 0 with 1/3, 3 with 2/3); the other
  rows could reach at least 3. Large counts get the least noise compatible with blocking 1 and 2 (standard
  deviation 1.41, bell-shaped on -3..3); a larger V adds noise to every count for little gain once tables are
  rounded to 10.
- Row 4 (candidates -1..3: it can fall only to 3) is not monotone: to be unbiased with variance 2 it puts 0.575 on
  -1 and more on +3 (0.118) than on +2 (0.071). The R package's golden test accepts the same in the same place
  (vector A, row 3, `mono = FALSE`). D = 4 would smooth it (row 4 could fall to 0) at the cost of a wider range.
- N = 4096, the project's record-key range (`record_keys.RECORD_KEY_RANGE`).
"""


@dataclass(frozen=True)
class PtableRow:
    """One row's noise distribution: for cells whose pcv is `pcv`."""

    pcv: int
    noises: tuple[int, ...]
    """The candidate noises, ascending."""
    key_counts: tuple[int, ...]
    """How many of the N cell keys give each noise: the distribution actually applied."""
    key_range: int
    probabilities: tuple[float, ...] | None = None
    """The maximum-entropy probabilities the keys were shared out by; None for a loaded table."""

    @property
    def key_probabilities(self) -> np.ndarray:
        return np.asarray(self.key_counts) / self.key_range

    @property
    def mean(self) -> float:
        """Mean noise in key space, over the N equally likely cell keys."""
        return float(self.key_probabilities @ np.asarray(self.noises))

    @property
    def variance(self) -> float:
        """Variance of the noise in key space."""
        return float(self.key_probabilities @ (np.asarray(self.noises) - self.mean) ** 2)

    def as_dict(self) -> dict:
        return {
            "pcv": self.pcv,
            "noises": list(self.noises),
            "probabilities": (
                None if self.probabilities is None else [round(p, BOUND_DIGITS) for p in self.probabilities]
            ),
            "key_counts": list(self.key_counts),
            "mean": self.mean,
            "variance": self.variance,
        }


@dataclass(frozen=True, eq=False)
class Ptable:
    """A ptable: `noise[pcv, ckey]` for pcv in 0..max_pcv and ckey in 0..N-1, with its rows' distributions.

    The pcv rule maps a cell value to its row: values up to max_pcv are their own row; above it the last
    `repeat_period` rows repeat. A generated table has repeat_period 1 (every count >= ncat uses the last row);
    the ONS 10/5 table has max_pcv 750 and repeat_period 250 (751 uses row 501, 1001 uses 501 again).
    Row 0 is all zero: an empty cell stays empty.
    """

    noise: np.ndarray
    repeat_period: int
    rows: tuple[PtableRow, ...]
    parameters: PtableParameters | None = None

    def __post_init__(self) -> None:
        if self.noise.ndim != 2 or self.noise.shape[0] < 2 or self.noise.shape[1] < 2:
            raise ValueError(f"noise must be a (max_pcv + 1) x N matrix with max_pcv >= 1, N >= 2: {self.noise.shape}")
        if not 1 <= self.repeat_period <= self.max_pcv:
            raise ValueError(f"repeat_period must be in 1..max_pcv ({self.max_pcv}), not {self.repeat_period}")
        if self.noise[0].any():
            raise ValueError("row 0 must be all zero: an empty cell stays empty")
        if len(self.rows) != self.max_pcv + 1:
            raise ValueError(f"expected {self.max_pcv + 1} row distributions, got {len(self.rows)}")
        self.noise.setflags(write=False)

    @property
    def max_pcv(self) -> int:
        return self.noise.shape[0] - 1

    @property
    def key_range(self) -> int:
        """N: cell keys are sums of record keys modulo N."""
        return self.noise.shape[1]

    @property
    def _first_repeated(self) -> int:
        return self.max_pcv - self.repeat_period + 1

    def pcv(self, cell_value: int) -> int:
        """The row a cell value uses."""
        cell_value = _non_negative(cell_value, "cell_value")
        if cell_value <= self.max_pcv:
            return cell_value
        return (cell_value - self._first_repeated) % self.repeat_period + self._first_repeated

    def pcv_sql(self, column: str) -> str:
        """The pcv rule as a DuckDB expression on an integer column (or expression) of non-negative cell values."""
        first = self._first_repeated
        return (
            f"CASE WHEN ({column}) <= {self.max_pcv} THEN ({column}) "
            f"ELSE (({column}) - {first}) % {self.repeat_period} + {first} END"
        )

    def perturbation_value(self, cell_value: int, cell_key: int) -> int:
        """The noise for a cell of this value and key."""
        cell_key = _non_negative(cell_key, "cell_key")
        if cell_key >= self.key_range:
            raise ValueError(f"cell_key must be below the key range {self.key_range}, not {cell_key}")
        return int(self.noise[self.pcv(cell_value), cell_key])

    def perturb(self, cell_value: int, cell_key: int) -> int:
        """The published (pre-rounding) value of a cell: its value plus its noise. Zero stays zero."""
        return operator.index(cell_value) + self.perturbation_value(cell_value, cell_key)

    def lookup_frame(self) -> pl.DataFrame:
        """The lookup in the ONS layout: pcv, ckey, pvalue; one row per (pcv, ckey), pcv 0 included (all zero)."""
        pcvs, keys = np.indices(self.noise.shape)
        return pl.DataFrame(
            {"pcv": pcvs.ravel(), "ckey": keys.ravel(), "pvalue": self.noise.ravel()},
            schema={"pcv": pl.Int64, "ckey": pl.Int64, "pvalue": pl.Int64},
        )

    def metadata(self) -> dict:
        """What the table is, for an asset's metadata: its parameters (if generated), layout and row distributions."""
        return {
            "parameters": None if self.parameters is None else asdict(self.parameters),
            "max_pcv": self.max_pcv,
            "repeat_period": self.repeat_period,
            "key_range": self.key_range,
            "rows": [row.as_dict() for row in self.rows],
        }


def _non_negative(value: int, name: str) -> int:
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value}")
    return value


# --- Generation ------------------------------------------------------------------------------------------------------


def candidate_noises(cell_value: int, params: PtableParameters) -> np.ndarray:
    """Row i's candidate noises j - i, j in [max(i - D, 0), i + D] minus the blocked 1..js; row 0 is 0 alone."""
    if cell_value == 0:
        return np.zeros(1, dtype=np.int64)
    d, js = params.max_perturbation, params.smallest_published
    results = np.arange(max(cell_value - d, 0), cell_value + d + 1)
    results = results[(results == 0) | (results > js)]
    return results - cell_value


def max_entropy_probabilities(noises: np.ndarray, variance: float) -> np.ndarray:
    """The maximum-entropy distribution on `noises` with mean 0 and variance `variance`, or the largest variance
    the noises allow if that is less.

    With mean 0 the variance ranges from `narrowest` (0 if 0 is a candidate, else all mass on the nearest candidates
    either side) to `widest` (all mass on the two extremes); at either end exactly one distribution qualifies.
    Inside, the maximiser has the exponential-family form p ~ exp(a v + b v^2) and (a, b) minimise the convex dual
    log sum exp(a v + b (v^2 - V)), found by Newton's method with a backtracking line search. (With three candidates
    the constraints alone fix p, and Newton finds that p.)
    """
    v = np.asarray(noises, dtype=float)
    below, above = v[v < 0], v[v > 0]
    if not len(below) or not len(above):
        if 0 not in v:
            raise ValueError(f"no unbiased distribution on the noises {noises.tolist()}")
        return (v == 0).astype(float)  # only staying put is unbiased
    widest = -below.min() * above.max()
    narrowest = 0.0 if 0 in v else -below.max() * above.min()
    target = min(variance, widest)
    if target < narrowest - _MOMENT_TOLERANCE:
        raise ValueError(f"variance {variance} is below {narrowest}, the least unbiased one on {noises.tolist()}")
    if target >= widest - _MOMENT_TOLERANCE:
        return _two_point(v, below.min(), above.max())
    if target <= narrowest + _MOMENT_TOLERANCE:
        return (v == 0).astype(float) if narrowest == 0 else _two_point(v, below.max(), above.min())
    return _newton_max_entropy(v, target)


def _two_point(v: np.ndarray, low: float, high: float) -> np.ndarray:
    """The unbiased distribution on {low < 0 < high}."""
    return np.where(v == low, high / (high - low), 0.0) + np.where(v == high, -low / (high - low), 0.0)


def _newton_max_entropy(v: np.ndarray, variance: float) -> np.ndarray:
    features = np.column_stack([v, v * v - variance])  # the dual's gradient is E[features]: zero at the optimum

    def distribution(multipliers: np.ndarray) -> tuple[float, np.ndarray]:
        exponent = features @ multipliers
        top = exponent.max()
        weights = np.exp(exponent - top)
        return top + math.log(weights.sum()), weights / weights.sum()

    multipliers = np.zeros(2)
    dual, p = distribution(multipliers)
    for _ in range(200):
        gradient = p @ features
        if np.abs(gradient).max() < _MOMENT_TOLERANCE:
            return p
        centred = features - gradient
        hessian = centred.T @ (centred * p[:, None])
        step = -np.linalg.solve(hessian, gradient)
        decrement = -(gradient @ step)
        length = 1.0
        while True:  # backtrack until the dual falls enough (Armijo); near the optimum, where the fall is below
            # float resolution, take the full step: Newton then converges quadratically
            trial_dual, trial_p = distribution(multipliers + length * step)
            if decrement < 1e-12 * max(1.0, abs(dual)) or trial_dual <= dual - 1e-4 * length * decrement:
                break
            length /= 2
        multipliers, dual, p = multipliers + length * step, trial_dual, trial_p
    raise ArithmeticError(f"max-entropy solve did not converge for noises {v.tolist()} and variance {variance}")


def generate_ptable(params: PtableParameters = DEFAULT_PTABLE_PARAMETERS) -> Ptable:
    """The ptable for these parameters: rows 0..ncat, the last serving every larger count."""
    n = params.record_key_range
    key_points = np.arange(n) / n
    noise = np.zeros((params.ncat + 1, n), dtype=np.int64)
    rows = []
    for cell_value in range(params.ncat + 1):
        noises = candidate_noises(cell_value, params)
        p = max_entropy_probabilities(noises, params.variance)
        upper_bounds = np.round(np.cumsum(p), BOUND_DIGITS)
        upper_bounds[-1] = 1.0  # the keys are all below 1, whatever the rounding of the sum
        choice = np.searchsorted(upper_bounds, key_points, side="right")  # the first j with k / N < ub_j
        noise[cell_value] = noises[choice]
        rows.append(
            PtableRow(
                pcv=cell_value,
                noises=tuple(int(x) for x in noises),
                key_counts=tuple(int(c) for c in np.bincount(choice, minlength=len(noises))),
                key_range=n,
                probabilities=tuple(float(x) for x in p),
            )
        )
    return Ptable(noise=noise, repeat_period=1, rows=tuple(rows), parameters=params)


# --- Loading the ONS layout ------------------------------------------------------------------------------------------

ONS_COLUMNS = ("pcv", "ckey", "pvalue")


def load_ons_ptable(path: str | Path, repeat_period: int = 250) -> Ptable:
    """A ptable from a CSV in the ONS `cell-key-perturbation` layout (pcv, ckey, pvalue).

    Every pcv in 1..max must have every cell key 0..N-1 exactly once, where N = max ckey + 1 and max is the largest
    pcv; pcv 0, if present, must be all zero (an empty cell stays empty). No noise may take a count below zero.
    `repeat_period`: how many of the last rows repeat above max (250 for the ONS 10/5 table).
    """

    def fail(problem: str) -> ValueError:
        return ValueError(f"ptable {path}: {problem}")

    try:
        frame = pl.read_csv(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise fail(f"cannot be read as CSV ({error})") from error
    missing = [name for name in ONS_COLUMNS if name not in frame.columns]
    if missing:
        raise fail(f"missing column(s) {missing}; expected {list(ONS_COLUMNS)}")
    if frame.is_empty():
        raise fail("has no rows")
    try:
        frame = frame.select(pl.col(name).cast(pl.Int64, strict=True) for name in ONS_COLUMNS)
    except pl.exceptions.PolarsError as error:
        raise fail(f"pcv, ckey and pvalue must be integers ({error})") from error
    if frame.null_count().sum_horizontal().item():
        raise fail("has empty values")
    if frame["pcv"].min() < 0 or frame["ckey"].min() < 0:
        raise fail("pcv and ckey must not be negative")
    if frame["pcv"].max() < 1:
        raise fail("has no row for pcv 1 or above")
    max_pcv, n = frame["pcv"].max(), frame["ckey"].max() + 1
    duplicates = frame.filter(frame.select("pcv", "ckey").is_duplicated())
    if not duplicates.is_empty():
        first = duplicates.row(0, named=True)
        raise fail(f"(pcv, ckey) ({first['pcv']}, {first['ckey']}) appears more than once")
    per_pcv = frame.filter(pl.col("pcv") >= 1).group_by("pcv").len()
    incomplete = (
        pl.DataFrame({"pcv": np.arange(1, max_pcv + 1)}, schema={"pcv": pl.Int64})
        .join(per_pcv, on="pcv", how="left")
        .filter(pl.col("len").fill_null(0) != n)
    )
    if not incomplete.is_empty():
        raise fail(f"pcv {incomplete['pcv'].head(5).to_list()} lack(s) some of the cell keys 0..{n - 1}")
    if frame.filter((pl.col("pcv") == 0) & (pl.col("pvalue") != 0)).height:
        raise fail("pcv 0 must have pvalue 0 throughout: an empty cell stays empty")
    if frame.filter(pl.col("pcv") + pl.col("pvalue") < 0).height:
        raise fail("some pvalue takes its count below zero")
    if not 1 <= repeat_period <= max_pcv:
        raise fail(f"repeat_period {repeat_period} must be in 1..{max_pcv}, the largest pcv")

    noise = np.zeros((max_pcv + 1, n), dtype=np.int64)
    noise[frame["pcv"].to_numpy(), frame["ckey"].to_numpy()] = frame["pvalue"].to_numpy()
    rows = tuple(_observed_row(noise, pcv) for pcv in range(max_pcv + 1))
    return Ptable(noise=noise, repeat_period=repeat_period, rows=rows)


def _observed_row(noise: np.ndarray, pcv: int) -> PtableRow:
    noises, counts = np.unique(noise[pcv], return_counts=True)
    return PtableRow(
        pcv=pcv,
        noises=tuple(int(x) for x in noises),
        key_counts=tuple(int(c) for c in counts),
        key_range=noise.shape[1],
    )
