"""Tests of the production deployment."""
