"""Tests of the cubes stage."""
