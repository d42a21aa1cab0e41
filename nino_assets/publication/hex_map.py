"""The hex map of local authorities: one equal hexagon an authority, laid out by the HexJSON file in the reference
data (`uk-local-authority-districts-2023.hexjson`), so that London's boroughs are as visible as the Highlands.

Values are shown in a few classes of one sequential scale from light to dark blue: the order of the classes reads in
grey and with any common colour-vision deficiency, and each class is named in the legend."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nino_assets.publication.wording import significant

HEX_LAYOUT = Path(__file__).resolve().parents[1] / "reference" / "data" / "uk-local-authority-districts-2023.hexjson"
CLASS_COLOURS = ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
"""ColorBrewer's 6-class Blues: lightness falls steadily from the first to the last."""


@dataclass(frozen=True)
class Hexagon:
    code: str
    name: str
    x: float
    y: float

    def corners(self) -> tuple[list[float], list[float]]:
        """The hexagon's outline (pointy top, as odd-r layouts are), closed."""
        angles = [math.radians(90 + 60 * step) for step in range(7)]
        radius = 1 / math.sqrt(3)
        return ([self.x + radius * math.cos(angle) for angle in angles],
                [self.y + radius * math.sin(angle) for angle in angles])


@cache  # read once: the bulletin asks for it for the main points and for the map
def load_layout(path: Path = HEX_LAYOUT) -> tuple[Hexagon, ...]:
    """Each authority's hexagon centre: odd rows shifted half a hexagon right (odd-r), rows 1.5 radii apart."""
    layout = json.loads(path.read_text(encoding="utf-8"))
    if layout["layout"] != "odd-r":
        raise ValueError(f"{path}: the hex map expects an odd-r layout, not {layout['layout']}")
    return tuple(Hexagon(code, hexagon["n"], hexagon["q"] + (0.5 if hexagon["r"] % 2 else 0.0),
                         hexagon["r"] * math.sqrt(3) / 2)
                 for code, hexagon in sorted(layout["hexes"].items()))


def class_breaks(values: list[int], classes: int = len(CLASS_COLOURS)) -> list[int]:
    """Upper bounds of `classes` classes holding about as many authorities each (quantiles), rounded to two
    significant figures so that the legend reads plainly; the last bound is the largest value."""
    ordered = sorted(values)
    bounds = []
    for number in range(1, classes):
        bound = significant(ordered[min(len(ordered) - 1, round(number * len(ordered) / classes))])
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return [*bounds, max(ordered[-1], bounds[-1] if bounds else 0)]


def class_of(value: int, bounds: list[int]) -> int:
    return next(index for index, bound in enumerate(bounds) if value <= bound)


def class_labels(bounds: list[int], step: int) -> list[str]:
    """'0 to 1,200', '1,210 to 2,500', ...: values are published in multiples of `step` (the rounding base)."""
    lower = [0, *(bound + step for bound in bounds[:-1])]
    return [f"{low:,} to {high:,}" for low, high in zip(lower, bounds)]
