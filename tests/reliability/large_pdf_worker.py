"""Index one big PDF with ``KnowledgeBase.add_file`` and report memory and progress as JSON.

Run as a subprocess by test_large_pdf.py so its RSS is the indexing's own. The peak is
the kernel's own high-water mark (``VmHWM``), reset to the current RSS once the embedder
is loaded (``/proc/self/clear_refs``): every byte of the peak is counted, none sampled.
``python -m tests.reliability.large_pdf_worker PDF DATA_DIR``
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _status_kb(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert match, f"{field} missing from /proc/self/status (Linux only)"
    return int(match.group(1)) * 1024


def reset_peak_rss() -> None:
    """Make the kernel's peak RSS start again from the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def main(pdf: Path, data_dir: Path) -> int:
    from rag.embeddings import make_embedder
    from rag.knowledge_base import KnowledgeBase
    from settings import Settings
    from storage.db import Database
    from storage.documents import DocumentRegistry

    settings = Settings(data_dir=data_dir, embedding_model="auto", device="cpu")
    db = Database(settings.db_path)
    kb = KnowledgeBase(settings, DocumentRegistry(db), make_embedder(settings))
    kb.search("warm up the embedder and the index", k=1)
    baseline = _status_kb("VmRSS")
    reset_peak_rss()
    assert _status_kb("VmHWM") <= baseline + 16 * 1024 * 1024, "the peak RSS could not be reset"

    stages: dict[str, list[int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault(stage, []).append(done)
        stages[stage + ":total"] = [total]

    result = kb.add_file(pdf, pdf.name, progress=progress)
    peak = _status_kb("VmHWM")
    db.close()
    print(json.dumps({"baseline_rss": baseline, "peak_rss": peak, "result": result.to_dict(),
                      "stages": {k: v if k.endswith(":total") else [len(v), v[0], v[-1]]
                                 for k, v in stages.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
