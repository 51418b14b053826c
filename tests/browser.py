"""Real headless Chromium for page tests: Debian's ``/usr/bin/chromium`` driven by Playwright (never a browser
Playwright downloads), started with the flags that keep it off the network. Screenshots go to
``$MLCATALOG_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the repository), kept after the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def artifacts_dir() -> Path:
    d = Path(os.environ.get("MLCATALOG_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "test-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh page in a new headless Chromium; FAILS (does not skip) when Chromium or Playwright is missing, and
    when a script of the page threw an uncaught error."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/start-test-servers-deps.sh does)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        errors: list[str] = []
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
        finally:
            browser.close()
        assert not errors, f"uncaught errors in the page's scripts: {errors}"
