"""Tests of the release stage."""
