"""Tests of the shared machinery and of the package as it is built."""
