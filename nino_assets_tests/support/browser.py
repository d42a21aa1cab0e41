"""Debian's Chromium, as the browser tests start it, and where they leave what they saw."""

from __future__ import annotations

from pathlib import Path

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
"""Screenshots and accessibility reports (git-ignored)."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""Headless as root, and without the background connections this machine's closed network refuses."""


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
