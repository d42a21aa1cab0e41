"""The hex map's layout and classes."""

from nino_assets.publication.hex_map import class_breaks, class_labels, class_of, load_layout
from nino_assets.reference.assets import REFERENCE_DATA


def test_every_local_authority_has_one_hexagon_and_no_two_overlap():
    hexagons = load_layout()
    codes = {line.split(",")[0] for line in (REFERENCE_DATA / "local_authorities.csv").read_text().splitlines()[1:]}
    assert {hexagon.code for hexagon in hexagons} == codes and len(hexagons) == 361
    centres = sorted((hexagon.x, hexagon.y) for hexagon in hexagons)
    nearest = min(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 for a, b in zip(centres, centres[1:]))
    assert nearest >= 0.99  # neighbours touch, none overlap
    xs, ys = hexagons[0].corners()
    assert len(xs) == 7 and (xs[0], ys[0]) == (xs[-1], ys[-1])


def test_classes_hold_about_as_many_authorities_each_and_cover_every_value():
    values = list(range(0, 3610, 10))  # 361 authorities
    bounds = class_breaks(values)
    assert bounds == sorted(set(bounds)) and bounds[-1] == 3600
    counts = [sum(1 for value in values if class_of(value, bounds) == number) for number in range(len(bounds))]
    assert len(counts) == 6 and max(counts) - min(counts) <= 12
    labels = class_labels(bounds, 10)
    assert labels[0].startswith("0 to ") and labels[-1].endswith("3,600")
    assert labels[1].startswith(f"{bounds[0] + 10:,} to ")
