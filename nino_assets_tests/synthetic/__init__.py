"""Tests of the synthetic scan generator."""
