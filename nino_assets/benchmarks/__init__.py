"""Benchmarks that print figures: `make bench` (python -m nino_assets.benchmarks). Not part of the tests."""
