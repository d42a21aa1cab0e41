"""Tests of the reference stage."""
