"""Issue 7 §2: mutated PDFs (byte flips, cuts, splices of generated ones) through
``KnowledgeBase.add_bytes``: no crash, no hang, a status for each, consistent indexes.

The files are fed by a worker subprocess (tests/reliability/fuzz_worker.py) so a hang
inside the PDF parser is caught by a per-file time limit here instead of freezing CI.
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import OFFLINE_ENV, REPO
from tests.pdfs import make_pdf
from tests.reliability.consistency import disagreements, registry_rows, stored_files
from tests.reliability.inputs import make_unicode_pdf, mutate

PER_FILE_LIMIT_S = 60
MODEL_LOAD_LIMIT_S = 300


@pytest.fixture(scope="module")
def seed_pdfs(tmp_path_factory) -> list[bytes]:
    """Real PDFs of several shapes to mutate: plain, multi-page, CJK, encrypted, TrueType."""
    d = tmp_path_factory.mktemp("fuzz-seeds")
    return [
        make_pdf(d / "plain.pdf", ["Fuzz seed page about teapots and kettles."]).read_bytes(),
        make_pdf(d / "multi.pdf", [f"Page {i} about harbours, ships and the tide table." for i in range(4)])
        .read_bytes(),
        make_pdf(d / "cjk.pdf", ["汉服是汉民族的传统服饰，历史悠久。"], cjk=True).read_bytes(),
        make_pdf(d / "aes.pdf", ["Encrypted seed with an empty password."], password="").read_bytes(),
        make_unicode_pdf(d / "unicode.pdf").read_bytes(),
    ]


def write_mutants(directory: Path, seeds: list[bytes], count: int, seed: int) -> int:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"mutant-{seed}-{i:04d}.pdf").write_bytes(mutate(seeds, rng))
    return count


def run_worker(input_dir: Path, data_dir: Path) -> list[dict]:
    """Run the worker; fail on a crash, on a hang longer than PER_FILE_LIMIT_S, or on a missing line."""
    env = {**os.environ, **OFFLINE_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.fuzz_worker", str(input_dir), str(data_dir)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put(None)],
                     daemon=True).start()
    stderr: list[str] = []
    threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()
    results, current, limit = [], None, MODEL_LOAD_LIMIT_S
    try:
        while True:
            try:
                line = lines.get(timeout=limit)
            except queue.Empty:
                pytest.fail(f"ingestion hung for more than {limit} s on {current}")
            if line is None:
                break
            event = json.loads(line)
            if "start" in event:
                current, limit = event["start"], PER_FILE_LIMIT_S
            elif "file" in event:
                results.append(event)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"worker crashed on {current}:\n{''.join(stderr)[-3000:]}"
    return results


def check_outcome(results: list[dict], expected: int, data_dir: Path) -> None:
    assert len(results) == expected
    for r in results:
        assert r["status"] in ("ready", "failed", "duplicate"), r
        if r["status"] == "failed":
            assert r["error"] and r["error"].startswith(r["file"]), r
    assert not disagreements(data_dir)
    rows = registry_rows(data_dir)
    assert {row["status"] for row in rows} <= {"ready", "failed"}
    ready = {row["id"] for row in rows if row["status"] == "ready"}
    assert stored_files(data_dir) == {f"{doc_id}.pdf" for doc_id in ready}  # failed ones keep no file


def test_two_hundred_mutated_pdfs_never_crash_hang_or_break_the_index(seed_pdfs, tmp_path: Path):
    count = write_mutants(tmp_path / "mutants", seed_pdfs, 200, seed=2026)

    results = run_worker(tmp_path / "mutants", tmp_path / "data")

    check_outcome(results, count, tmp_path / "data")
    statuses = {r["status"] for r in results}
    assert "failed" in statuses and "ready" in statuses  # the mutations hit both paths


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a generous bound: parser processes are reused, a killed one restarts
def test_a_thousand_more_mutated_pdfs(seed_pdfs, tmp_path: Path):
    count = write_mutants(tmp_path / "mutants", seed_pdfs, 1000, seed=7)
    results = run_worker(tmp_path / "mutants", tmp_path / "data")
    check_outcome(results, count, tmp_path / "data")
