"""Issue 7 §1: a 1,000-page PDF indexes with progress and in bounded memory (< 500 MB growth)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import OFFLINE_ENV, REPO
from tests.reliability.consistency import disagreements
from tests.reliability.inputs import make_long_pdf

PAGES = 1000
MAX_RSS_GROWTH = 500 * 1024 * 1024


@pytest.mark.slow
def test_thousand_page_pdf_indexes_with_progress_in_bounded_memory(tmp_path: Path):
    pdf = make_long_pdf(tmp_path / "thousand.pdf", PAGES)

    run = subprocess.run([sys.executable, "-m", "tests.reliability.large_pdf_worker", str(pdf), str(tmp_path / "data")],
                         cwd=REPO, env={**os.environ, **OFFLINE_ENV}, capture_output=True, text=True, timeout=1500)

    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))  # the numbers, for the benchmark notes (-s)
    result = report["result"]
    assert result["status"] == "ready", result
    assert result["pages"] == PAGES and result["chunks"] >= PAGES // 2
    pages_seen = report["stages"]["reading pages"]
    assert pages_seen[0] == PAGES and pages_seen[2] == PAGES  # one callback per page, up to the last
    assert report["stages"]["reading pages:total"] == [PAGES]
    assert report["stages"]["embedding"][2] == result["chunks"]
    assert report["peak_rss"] - report["baseline_rss"] < MAX_RSS_GROWTH
    assert not disagreements(tmp_path / "data")
