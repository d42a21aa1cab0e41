"""Cubes stage: the finest cells, from which every published cell is derived, and which cells are published."""
