"""Tests of the publication stage."""
