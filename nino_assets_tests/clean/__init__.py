"""Tests of the clean stage."""
