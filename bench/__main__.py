"""``python -m bench --eval-dir ../shared/eval [--quick] [--out bench/out]``.

Runs the measurements of issue 6 in one process (so docchat and the LangChain recipe
share a machine state and models), writes ``<out>/results.json``, PNG plots in
``<out>`` and BENCHMARKS.md. A measurement that fails is recorded with its error and
the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from bench.answers import SETS, SYSTEMS, VARIANTS
from bench.harness import Bench, BenchOptions

log = logging.getLogger("bench")

# Order matters: indexing first (the others reuse its indexes), the server last.
MEASUREMENTS = (
    "indexing_speed",
    "retrieval_quality",
    "search_plan",
    "answers",
    "answer_speed",
    "conversational",
    "finetune",
    "finetune_answers",
    "long_conversation",
    "latency",
    "concurrency",
    "backend_concurrency",
    "scale",
    "citations",
)
REPO_ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=REPO_ROOT.parent / "shared" / "eval",
                        help="folder with financebench/, cast2021/, zh/ (never copied into the repo)")
    parser.add_argument("--quick", action="store_true", help="CI-sized run (a few minutes)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out", help="results.json and plots")
    parser.add_argument("--markdown", type=Path, default=REPO_ROOT / "BENCHMARKS.md", help="report to write")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}, zh")
    parser.add_argument("--zh", action="store_true", help="also run the Chinese check on <eval-dir>/zh")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="answer length in the answer-quality run")
    parser.add_argument("--answer-questions", type=int, default=None,
                        help="answers: only the first N questions of each set, and N of its unanswerable ones "
                             "(default: all)")
    parser.add_argument("--answer-types", default=None,
                        help="answers: only FinanceBench questions of these comma-separated question types "
                             "(metrics-generated, domain-relevant, novel-generated); other sets unchanged")
    parser.add_argument("--answer-sets", default=None,
                        help="answers: comma-separated sets among financebench, finance54 (all 54 filings), "
                             "mmlongbench, zh (default: financebench,mmlongbench,zh)")
    parser.add_argument("--answer-systems", default=None,
                        help="answers: comma-separated systems among docchat, recipe, oracle, no_retrieval "
                             "(default: all four)")
    parser.add_argument("--chat-model", default="auto",
                        help="chat model of every measurement, as settings' `model` (e.g. qwen2.5-1.5b); "
                             "default: auto")
    parser.add_argument("--chat-device", default="cpu", help="device of that chat model: cpu, cuda or auto")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads for this process (default: torch's choice); 1 is far "
                             "more stable when other processes load the CPU")
    parser.add_argument("--cast-topics", type=int, default=None, help="CAsT dialogues to run (default: all 13)")
    parser.add_argument("--long-turns", type=int, default=None, help="turns of the scripted conversation (default 100)")
    parser.add_argument("--index-cache", type=Path, default=None,
                        help="build the big retrieval sets' indexes here once and reuse them (keyed by the "
                             "indexing code and settings); default: a fresh temp dir")
    parser.add_argument("--retrieval-sets", default=None,
                        help="comma-separated extra retrieval sets: financebench_all, mmlongbench (default both; "
                             "'none' for the twelve only)")
    return parser.parse_args(argv)


def name_list(value: str | None, known: tuple[str, ...], flag: str) -> list[str] | None:
    """A comma-separated flag value as a list (None when not given); unknown names stop the run."""
    if not value:
        return None
    listed = [n.strip() for n in value.split(",") if n.strip()]
    unknown = {n for n in listed if n.split("-")[0] not in known
               or any(v not in VARIANTS for v in n.split("-")[1:])}
    if unknown:
        raise SystemExit(f"{flag}: unknown {', '.join(sorted(unknown))}; choose from {', '.join(known)}, each may end in -{'/-'.join(VARIANTS)} where it applies")
    return listed


def selected(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(MEASUREMENTS)
    if args.zh and "zh" not in names:
        names.append("zh")
    unknown = set(names) - set(MEASUREMENTS) - {"zh"}
    if unknown:
        raise SystemExit(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    return names


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("httpx", "chromadb", "bm25s", "sentence_transformers", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("ANONYMIZED_TELEMETRY", "False"),
                        ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
    if not (args.eval_dir / "financebench").is_dir():
        log.error("no evaluation data under %s (expected financebench/, cast2021/, zh/)", args.eval_dir)
        return 2

    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    options = BenchOptions(eval_dir=args.eval_dir, out_dir=args.out, quick=args.quick, zh=args.zh,
                           max_new_tokens=args.max_new_tokens, answer_questions=args.answer_questions,
                           answer_types=[s.strip() for s in args.answer_types.split(",")] if args.answer_types else None,
                           cast_topics=args.cast_topics, long_turns=args.long_turns, index_cache=args.index_cache,
                           retrieval_sets=[s.strip() for s in args.retrieval_sets.split(",") if s.strip()]
                           if args.retrieval_sets else None,
                           answer_sets=name_list(args.answer_sets, SETS, "--answer-sets"),
                           answer_systems=name_list(args.answer_systems, SYSTEMS, "--answer-systems"),
                           chat_model=args.chat_model, chat_device=args.chat_device)
    bench = Bench(options)
    results: dict = {}
    started = time.perf_counter()
    try:
        for name in selected(args):
            log.info("=== %s", name)
            t0 = time.perf_counter()
            try:
                module = importlib.import_module(f"bench.{name}")
                results[name] = module.run(bench)
            except Exception as exc:  # one failing measurement must not hide the others
                log.exception("%s failed", name)
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            results[name]["seconds"] = time.perf_counter() - t0
            log.info("=== %s done in %.0fs", name, results[name]["seconds"])
            _save(results, args.out)  # partial results survive an interrupted run
    finally:
        bench.close()

    from bench.report import write_markdown, write_plots

    results["meta"] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "eval_dir": os.path.relpath(args.eval_dir, REPO_ROOT) if args.eval_dir.is_absolute() else str(args.eval_dir),
        "cpus": os.cpu_count(),
        "device": _device(),
        "python": sys.version.split()[0],
        "total_s": time.perf_counter() - started,
    }
    _save(results, args.out)
    plots = write_plots(results, args.out)
    write_markdown(results, args.markdown, plots)
    log.info("wrote %s, %s and %d plots in %.0fs", args.markdown, args.out / "results.json", len(plots),
             results["meta"]["total_s"])
    failed = [n for n, r in results.items() if isinstance(r, dict) and "error" in r]
    return 1 if failed else 0


def _save(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


def _device() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # reporting only
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
