"""Tests of the whole journey: the full series, the newcomer's road, the quality checks across stages, the
definitions' snapshot and the installed package."""
