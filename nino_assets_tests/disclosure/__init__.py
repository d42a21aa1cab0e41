"""Tests of the disclosure stage."""
