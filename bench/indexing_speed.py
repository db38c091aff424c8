"""Measurement 4: indexing speed (pages/s, chunks/s) and peak RSS, docchat vs the recipe.

Both sides index the same FinanceBench filings in this process with the same MiniLM
weights (models loaded and warmed up before the clock starts). Pages are the PDFs' page
counts for both sides, so pages/s compare like for like; chunks/s depends on each side's
chunk size (docchat ~200 tokens, the recipe 4000 characters).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from bench.harness import Bench

log = logging.getLogger(__name__)

TARGET_RATIO = 1.5


def run(bench: Bench) -> dict:
    bench.index_finance()
    sides = {}
    for side, r in bench.finance_runs.items():
        sides[side] = {
            **asdict(r),
            "pages_per_s": r.pages / r.seconds if r.seconds else 0.0,
            "chunks_per_s": r.chunks / r.seconds if r.seconds else 0.0,
        }
    ratio = sides["docchat"]["pages_per_s"] / sides["recipe"]["pages_per_s"] if sides["recipe"]["pages_per_s"] else 0.0
    return {
        "files": len(bench.finance_corpus().pdfs),
        "sides": sides,
        "pages_per_s_ratio": ratio,
        "target": f"docchat pages/s >= {TARGET_RATIO} x recipe",
        "met": ratio >= TARGET_RATIO,
    }
