"""Tests of the geography stage."""
