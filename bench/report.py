"""Turn the results of a bench run into BENCHMARKS.md (tables) and PNG plots.

Pure formatting: reads the results dict written by ``bench.__main__`` and never measures
anything, so a report can be regenerated from ``results.json`` alone.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bench.markdown import fmt, table

log = logging.getLogger(__name__)

_f, _table = fmt, table  # this module's short names for them


def _met(section: dict) -> str:
    if "met" not in section:
        return ""
    verdict = "**met**" if section["met"] else "**not met**"
    return f"\nTarget: {section.get('target', '')} — {verdict}.\n"


def _retrieval(r: dict) -> str:
    d, c = r["docchat"], r["recipe"]
    rows = [["docchat (hybrid, table-aware pages, heading prefixes, routing)", d["recall@1"], d["recall@5"], d["mrr"], d["n"]]]
    if r.get("docchat_no_routing"):
        n = r["docchat_no_routing"]
        rows.append(["docchat without entity routing", n["recall@1"], n["recall@5"], n["mrr"], n["n"]])
    rows.append(["LangChain recipe (seed 004)", c["recall@1"], c["recall@5"], c["mrr"], c["n"]])
    text = f"{r.get('files', '?')} filings, {d['n']} questions, page-level gold.\n\n"
    text += _table(["system", "recall@1", "recall@5", "MRR", "questions"], rows)
    text += f"\n\nThe recipe's as-shipped retriever (k=4) finds {_f(c.get('recall@4'))} at 4."
    text += _met(r)
    for name, sr in (r.get("sets") or {}).items():
        text += f"\n\n### {name}\n\n"
        if "error" in sr:
            text += f"failed: {sr['error']}"
            continue
        text += f"{sr['files']} documents indexed together, {sr['questions']} questions.\n\n"
        set_rows = []
        for label, row in sr["subsets"].items():
            for side, title in (("docchat", "docchat"), ("docchat_no_routing", "docchat without routing"),
                                ("recipe", "recipe")):
                m = row[side]
                set_rows.append([label, title, m["recall@1"], m["recall@5"], m["mrr"], m["n"]])
        text += _table(["questions", "system", "recall@1", "recall@5", "MRR", "n"], set_rows)
        text += "\n" + _met(sr)
    return text


def _conversational(r: dict) -> str:
    labels = {"raw": "(a) raw utterance", "manual": "(c) manual rewrite (gold)",
              "standalone": "(b) condensed only", "standalone+raw": "(b) condensed + raw (fused)",
              "standalone+raw+prev": "(b) condensed + raw + previous question (fused)"}
    rows = []
    for name, label in labels.items():
        a, f = r["all_turns"].get(name), r["followups"].get(name)
        if a and f:
            rows.append([label, a["recall@5"], a["mrr"], f["recall@5"], f["mrr"]])
    text = (f"{r['turns']} turns ({r['followup_turns']} follow-ups), {r['passages']} passages, "
            f"condensing with {r['chat_model']} (p50 {_f(r['condense_p50_s'])} s per call).\n\n")
    text += _table(["query", "recall@5 (all)", "MRR (all)", "recall@5 (follow-ups)", "MRR (follow-ups)"], rows)
    text += f"\n\nBest strategy on follow-ups: **{r['best_strategy']}**."
    examples = r.get("examples") or []
    if examples:
        text += "\n\nExamples (raw → condensed / manual):\n\n"
        text += "\n".join(f"- {e['raw']} → {e['standalone']} / {e['manual']}" for e in examples[:5])
    return text + "\n" + _met(r)


def _finetune(r: dict) -> str:
    t = r.get("training") or {}
    text = (f"{r['followups']} follow-ups of held-out CAsT topics {', '.join(map(str, r['dev_topics']))}, "
            f"{r['passages']} passages; {r['chat_model']}. Adapter: {t.get('train_examples')} examples, "
            f"{t.get('steps_done')} steps, {_f(t.get('train_seconds'), 0)} s on {t.get('device')}, "
            f"loss {_f(t.get('loss_first'))} → {_f(t.get('loss_last'))}.\n\n")
    rw = r["rewrite"]
    text += _table(["rewrite vs manual", "BLEU", "chrF"],
                   [[name, rw[key]["bleu"], rw[key]["chrf"]] for name, key in
                    (("raw utterance", "raw"), ("base model (before)", "before"), ("with adapter (after)", "after"))])
    rec = r["recall"]
    rows = [["raw utterance", rec["raw"]["recall@5"], "", ""], ["manual rewrite (gold)", rec["manual"]["recall@5"], "", ""]]
    for strategy in ("standalone", "standalone+raw", "standalone+raw+prev"):
        rows.append([strategy, "", rec[f"before:{strategy}"]["recall@5"], rec[f"after:{strategy}"]["recall@5"]])
    text += "\n\n" + _table(["query", "recall@5", "before (base)", "after (adapter)"], rows)
    text += (f"\n\nDefault strategy: **{r['default_strategy']}**; best with the adapter: "
             f"**{r['best_strategy_after']}**.")
    return text + "\n" + _met(r)


def _finetune_answers(r: dict) -> str:
    text = (f"{r['chat_model']}, `python -m train --from-db DIR --user analyst`: CAsT topics "
            f"{', '.join(map(str, r['train_topics']))} stored as docchat conversations (train: "
            f"{r['train_examples']} conversations), topics {', '.join(map(str, r['dev_topics']))} held out "
            f"({r['dev_examples']} dev answers); {r['steps']} steps in {_f(r['train_seconds'], 0)} s, "
            f"loss {_f(r['loss_first'])} → {_f(r['loss_last'])}.\n\n")
    rows = [["base model (before)", r["dev_before"]["bleu"], r["dev_before"]["chrf"]],
            ["with the answer adapter (after)", r["dev_after"]["bleu"], r["dev_after"]["chrf"]]]
    return text + _table(["dev answers vs stored", "BLEU", "chrF"], rows) + "\n"


ANSWER_SETS = {"financebench": "FinanceBench, the twelve", "finance54": "FinanceBench, all 54",
               "mmlongbench": "MMLongBench-Doc", "zh": "zh paper, first turns"}
ANSWER_SYSTEMS = {"docchat": "docchat", "recipe": "recipe (seed 004)", "oracle": "oracle (gold pages)",
                  "no_retrieval": "no retrieval"}
ANSWER_COLUMNS = (("correct", "correct"), ("em", "EM"), ("f1", "F1"), ("with_marks", "with [n]"),
                  ("cited_gold", "correct cite gold"), ("abstention", "abstains: unanswerable"),
                  ("false_abstention", "abstains: answerable"), ("chinese_answers", "zh answers in zh"),
                  ("ttft_p50_s", "TTFT p50 s"), ("decode_tokens_per_s", "decode tok/s"),
                  ("prompt_tokens", "prompt tokens"))


def _answers(r: dict) -> str:
    if "sets" not in r:  # a results.json from the earlier BLEU/chrF version of this measurement
        return "Results of the earlier (BLEU/chrF) version of this measurement; re-run `--only answers`.\n"
    cap = r.get("questions_cap")
    text = (f"{r['chat_model']}, greedy, max_new_tokens={r['max_new_tokens']}, the same weights for every "
            f"system{f'; the first {cap} questions of each kind per set' if cap else ''}. "
            "docchat = the turn pipeline; recipe = seed 004's chain; oracle = docchat's prompt with the "
            "chunks of the gold pages as passages; no retrieval = the model alone. Correct: a gold figure "
            "stated within 1% in any scale (FinanceBench, over the questions whose gold has a figure), every "
            "gold item in the answer (MMLongBench-Doc; EM and F1 SQuAD-normalised); the zh paper has no gold "
            "answers. With [n]: answers (not abstaining, with passages) carrying a valid mark; correct cite "
            "gold: correct answers (zh: all answers) whose [n] points to a gold page. Abstains: the reply "
            "is the not-in-documents sentence, on our unanswerable questions (bench/unanswerable.py) and on "
            f"answerable ones. Every answer is in `{r.get('records', 'answers.jsonl')}` next to results.json.\n\n")
    rows, notes, samples = [], [], []
    for name, sr in r["sets"].items():
        label = ANSWER_SETS.get(name, name)
        if "error" in sr:
            notes.append(f"- {label}: failed: `{sr['error']}`")
            continue
        scored = next(iter(sr["systems"].values()), {}).get("scored")
        docs = sr["documents"]
        notes.append(f"- {label}: {docs} document{'' if docs == 1 else 's'}, {sr['answerable']} answerable questions"
                     f"{f' ({scored} scorable)' if sr['scoring'] == 'figure' else ''} + {sr['unanswerable']} "
                     "unanswerable.")
        for system, m in sr["systems"].items():
            failed = f" ({m['failed']} failed)" if m.get("failed") else ""
            failed += f" ({m['skipped']} without gold text skipped)" if m.get("skipped") else ""
            values = [m.get(key) for key, _ in ANSWER_COLUMNS]
            values[-1] = None if values[-1] is None else round(values[-1])  # prompt tokens
            rows.append([label, ANSWER_SYSTEMS.get(system, system) + failed, *values])
        for sample in sr.get("samples", [])[:3]:
            samples.append(f"- {label} — {sample['question']} (gold: {sample['gold'] or '–'})")
            samples += [f"  - {ANSWER_SYSTEMS.get(s, s)}: {_one_line(a)}" for s, a in sample["answers"].items()]
    text += "\n".join(notes) + "\n\n"
    text += _table(["set", "system", *[title for _, title in ANSWER_COLUMNS]], rows)
    if samples:
        text += "\n\nSample answers:\n\n" + "\n".join(samples)
    return text + "\n"


def _answer_speed(r: dict) -> str:
    rows, convs = [], []
    for name, m in r.get("models", {}).items():
        rows.append([m["model"], m["threads"], _f(m["prompt_tokens_mean"], 0), _f(m["ttft_p50_s"], 1),
                     _f(m["bare_ttft_p50_s"], 1), _f(m["ttft_ratio_p50"]), _f(m["decode_tok_s_p50"], 1),
                     _f(m["follow_up_prefill_over_changed_max"]), _f(m["follow_up_cached_share"])])
        for i, t in enumerate(m["conversation"], start=1):
            convs.append([name, i, t["prompt_tokens"], t["cached_tokens"], t["prefilled_tokens"], t["changed_tokens"],
                          _f(t["condense_s"], 1), _f(t["ttft_s"], 1)])
    text = (f"First turns on the twelve filings' index ({r.get('new_tokens')} new tokens, greedy), docchat's whole "
            "turn against bare llama-cpp-python's prefill of the same prompt, alternating; then a stored "
            "conversation's follow-ups.\n\n")
    text += _table(["model", "threads", "prompt tokens", "TTFT p50 s", "bare TTFT p50 s", "ratio p50",
                    "decode tok/s", "follow-up prefilled / changed (max)", "follow-up share from KV cache"], rows)
    plans = [[m["model"], _f(m["ttft_p50_s"], 1), _f(m["with_plan_ttft_p50_s"], 1), _f(m["plan_p50_s"], 1),
              _f(m["plan_share_p50"])] for m in r.get("models", {}).values() if "plan_share_p50" in m]
    if plans:
        text += ("\n\nThe search plan (one model call: standalone question + phrasings) on the same first turns, "
                 "side by side (target: added TTFT <= 0.30 of the turn's without it):\n\n"
                 + _table(["model", "TTFT p50 s without", "TTFT p50 s with plan", "plan p50 s", "added share p50"],
                          plans))
    return text + "\n\n" + _table(["model", "turn", "prompt", "from KV cache", "prefilled", "changed",
                                     "condense s", "TTFT s"], convs)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split()) or "(empty)"
    return flat if len(flat) <= limit else flat[:limit].rstrip() + " …"


def _indexing(r: dict) -> str:
    rows = [[side, s["pages"], s["chunks"], s["seconds"], s["pages_per_s"], s["chunks_per_s"], s["peak_rss_mb"],
             s["rss_growth_mb"]] for side, s in r["sides"].items()]
    text = _table(["system", "pages", "chunks", "seconds", "pages/s", "chunks/s", "peak RSS MB", "RSS growth MB"], rows)
    text += f"\n\ndocchat / recipe pages/s: **{_f(r['pages_per_s_ratio'])}×** ({r['files']} files)."
    return text + _met(r)


def _latency(r: dict) -> str:
    rows = [[size, s["p50_ms"], s["p95_ms"], s["embed_p50_ms"], s["target_p50_ms"], s["met"], s["build_s"]]
            for size, s in r["sizes"].items()]
    return _table(["chunks", "p50 ms", "p95 ms", "query embedding p50 ms", "target p50 ms", "met", "build s"], rows) + "\n"


def _long(r: dict) -> str:
    rows = r["rows"]
    picks = [row for row in rows if row["turn"] in (1, 5, 10, 25, 50, 75, 100)]
    text = (f"{r['turns']} turns, max_new_tokens={r['max_new_tokens']}, context window {r['context_window']}, "
            f"prompt budget {r['prompt_budget']}, history budget {r['history_token_budget']}; "
            f"largest prompt {r['max_prompt_tokens']} tokens.\n\n")
    text += _table(["turn", "prompt tokens", "cached prompt tokens", "TTFT s", "latency s"],
                   [[x["turn"], x["prompt_tokens"], x.get("cached_prompt_tokens", 0), x.get("ttft_s"),
                     x["latency_s"]] for x in picks])
    text += f"\n\nLatency of the last 5 turns / turns 3–7: **{_f(r['latency_ratio_last5_vs_turns3to7'])}×**."
    if "ttft_ratio_last5_vs_turns3to7" in r:
        text += (f" Time to first token, same turns: **{_f(r['ttft_ratio_last5_vs_turns3to7'])}×** "
                 f"({r['cached_turns']} of {r['turns']} turns reused a cached prefix).")
    if r.get("ttft_ratio_last5_vs_reference_turns3to7") is not None:
        ref = r["reference_rows"][2:7]
        text += (f" Side by side — a reference conversation replaying turns 1–7 at the end, its turns 3–7 "
                 f"interleaved with the last five (TTFT {', '.join(_f(x['ttft_s']) for x in ref)} s), so both "
                 f"sides run on the same machine state: **{_f(r['ttft_ratio_last5_vs_reference_turns3to7'])}×**.")
    return text + _met(r)


def _concurrency(r: dict) -> str:
    rows = [[v["n"], v["aggregate_tokens_per_s"], v["ttft_p50_ms"], v["ttft_p95_ms"], v["wall_s"], v["failed"]]
            for v in r["levels"].values()]
    text = f"Real server (`app.py`), streamed `POST /api/chat`, max_tokens={r['max_tokens']}, RAG over {r['document']}.\n\n"
    text += _table(["N", "aggregate tokens/s", "TTFT p50 ms", "TTFT p95 ms", "wall s", "failed"], rows)
    text += f"\n\nAggregate scaling N={max(int(k) for k in r['levels'])} vs N=1: **{_f(r['scaling_top_vs_1'])}×**."
    if "ttft_p95_ratio_top_vs_1" in r:
        text += f" TTFT p95 N={max(int(k) for k in r['levels'])} / N=1: **{_f(r['ttft_p95_ratio_top_vs_1'])}×**."
    return text + _met(r)


def _backend_concurrency(r: dict) -> str:
    """Issue 17's before/after on the model alone: one ``generate`` at a time vs the batched backend."""
    levels = sorted({int(n) for by_n in r["levels"].values() for n in by_n})
    lo, hi = str(levels[0]), str(levels[-1])
    text = (f"{hi} different questions over a {r['prompt_tokens']}-token context, greedy, max_new_tokens="
            f"{r['max_new_tokens']}; before = the backend at `{r.get('before_ref', '')}` (one generate at a "
            "time), after = this checkout (batched decode steps, packed linear layers on a CPU).\n\n")
    rows = [[name, by_n[lo]["tokens_per_s"], by_n[hi]["tokens_per_s"], r[f"{name}_scaling"],
             by_n[hi]["ttft_p95_s"], r[f"{name}_ttft_p95_ratio"]] for name, by_n in sorted(r["levels"].items())]
    text += _table(["backend", f"N={lo} tokens/s", f"N={hi} tokens/s", f"N={hi} / N={lo}",
                    f"TTFT p95 s at N={hi}", "TTFT p95 ratio"], rows)
    if r.get("prefix_turns"):
        last = r["prefix_turns"][-1]
        text += (f"\n\nPrefix cache, turn {last['turn']} of one conversation ({last['prompt_tokens']} prompt tokens): "
                 f"TTFT {_f(last['ttft_no_cache_s'])} s without the cache, {_f(last['ttft_cached_s'])} s with "
                 f"{last['reused_cached']} tokens reused.")
    return text + _met(r)


def _zh(r: dict) -> str:
    rows = [["docchat, first turns", r["first_turns"]["docchat"]["recall@1"], r["first_turns"]["docchat"]["recall@5"]],
            ["recipe, first turns", r["first_turns"]["recipe"]["recall@1"], r["first_turns"]["recipe"]["recall@5"]]]
    rows += [[f"follow-ups: {name}", s["recall@1"], s["recall@5"]] for name, s in r["followups"].items()]
    text = _table(["query", "recall@1", "recall@5"], rows)
    if r.get("examples"):
        text += "\n\n" + "\n".join(f"- {e['q']} → {e['standalone']} (gold: {e['rewrite']})" for e in r["examples"])
    return text + "\n"


def _citations(r: dict) -> str:
    render = r["render"]
    text = (f"Page render + highlight at {render['width']} px over {render['cold']['n']} chunks sampled from "
            f"the indexed filings ({render['chunks']} chunks, {render['located_share']:.0%} located on their page): "
            "cold = pypdfium2 renders the page, warm = the plain render is cached on disk and the highlight "
            "is drawn per request.\n\n")
    text += _table(["render", "p50 ms", "p95 ms"], [["cold", render["cold"]["p50_ms"], render["cold"]["p95_ms"]],
                                                     ["warm", render["warm"]["p50_ms"], render["warm"]["p95_ms"]]])
    text += "\n" + _met(render) + "\n"
    rows = [[side, s["n"], s["answers_with_marks"], s["precision"], s["precision_of_marked"], s["implicit_support"]]
            for side in ("docchat", "recipe") if (s := r.get(side))]
    text += (f"Citation precision ({r['chat_model']}, greedy, max_new_tokens={r['max_new_tokens']}): share of "
             "answers whose [n] marks all point to passages that support their sentence; 'implicit' = the whole "
             "answer is supported by the first source shown.\n\n")
    return text + _table(["system", "answers", "with [n]", "precision", "precision of marked", "implicit"],
                         rows) + "\n"


SECTIONS = (
    ("retrieval_quality", "1. Retrieval quality — FinanceBench (all filings indexed together)", _retrieval),
    ("conversational", "2. Conversational retrieval — TREC CAsT 2021", _conversational),
    ("search_plan", "2d. Search plan: the model's phrasings in retrieval, before/after",
     lambda r: __import__("bench.search_plan").search_plan.render(r)),
    ("finetune", "2b. Condense adapter (LoRA) — held-out CAsT topics, before/after", _finetune),
    ("finetune_answers", "2c. Answer adapter from stored conversations (--from-db)", _finetune_answers),
    ("answers", "3. Answer quality — docchat, recipe, oracle, no retrieval", _answers),
    ("answer_speed", "3b. Answer speed — Qwen2.5 0.5B and 1.5B on llama.cpp, this machine", _answer_speed),
    ("indexing_speed", "4. Indexing speed", _indexing),
    ("latency", "5. Retrieval latency (hybrid search incl. query embedding)", _latency),
    ("long_conversation", "7. Long conversation (scripted)", _long),
    ("concurrency", "8. Concurrency through the HTTP API", _concurrency),
    ("backend_concurrency", "8b. Concurrent answers on the local backend: before/after", _backend_concurrency),
    ("scale", "9. Scale: 1,000 PDFs on one machine (issue 16)", lambda r: __import__("bench.scale").scale.render(r)),
    ("citations", "10. Checkable citations: page render + highlight, citation precision", _citations),
    ("zh", "Chinese check (--zh)", _zh),
)


def write_markdown(results: dict, path: Path, plots: dict[str, Path]) -> Path:
    meta = results.get("meta", {})
    out = ["# docchat benchmarks", "",
           f"Generated by `python -m bench --eval-dir {meta.get('eval_dir', '../shared/eval')}"
           f"{' --quick' if meta.get('quick') else ''}` on {meta.get('date', '?')}, "
           f"{meta.get('cpus', '?')} CPU cores, {meta.get('device', 'cpu')}, total {_f(meta.get('total_s'), 0)} s. "
           "Both sides of every comparison run in the same process with the same embedding model "
           "(bundled all-MiniLM-L6-v2) and chat model; the machine is shared, so absolute timings are noisy "
           "and the ratios are what count.",
           "",
           *([f"Merged from {len(meta['runs'])} runs: " + "; ".join(f"({r})" for r in meta["runs"]) + ".", ""]
             if meta.get("runs") else []),
           "The recipe is seed 004 run for real: `PyPDFLoader(path).load_and_split()` (library-default "
           "`RecursiveCharacterTextSplitter`: chunk_size=4000, chunk_overlap=200 characters) → "
           "`Chroma.from_documents` (langchain-chroma) with `HuggingFaceEmbeddings` on the same MiniLM directory → "
           "`ConversationalRetrievalChain.from_llm(llm, retriever=db.as_retriever())` (k=4).", ""]
    for key, title, render in SECTIONS:
        section = results.get(key)
        if section is None:
            continue
        out += [f"## {title}", ""]
        if "error" in section:
            out += [f"Not measured: `{section['error']}`", ""]
            continue
        out.append(render(section))
        if key in plots:
            rel = os.path.relpath(plots[key], path.parent)
            out += ["", f"![{key}]({rel})"]
        out.append("")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def write_plots(results: dict, out_dir: Path) -> dict[str, Path]:
    """One PNG per measurement that has a picture; returns {section: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Path] = {}

    def save(fig, name: str, key: str) -> None:
        fig.tight_layout()
        target = out_dir / name
        fig.savefig(target, dpi=110)
        plt.close(fig)
        plots[key] = target

    r = results.get("retrieval_quality")
    if r and "error" not in r:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        metrics = ["recall@1", "recall@5", "mrr"]
        for i, (side, label) in enumerate((("docchat", "docchat"), ("recipe", "LangChain recipe"))):
            ax.bar([x + i * 0.38 for x in range(3)], [r[side][m] for m in metrics], 0.38, label=label)
        ax.set_xticks([x + 0.19 for x in range(3)], metrics)
        ax.set_ylim(0, 1)
        ax.set_title("FinanceBench page-level retrieval")
        ax.legend()
        save(fig, "retrieval_quality.png", "retrieval_quality")

    r = results.get("conversational")
    if r and "error" not in r:
        names = [n for n in ("raw", "standalone", "standalone+raw", "standalone+raw+prev", "manual") if n in r["followups"]]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(names, [r["followups"][n]["recall@5"] for n in names],
               color=["#999" if n in ("raw", "manual") else "#3a7" for n in names])
        ax.set_ylim(0, 1)
        ax.set_ylabel("recall@5 (follow-up turns)")
        ax.set_title("TREC CAsT 2021: retrieval query strategy")
        plt.setp(ax.get_xticklabels(), rotation=15)
        save(fig, "conversational.png", "conversational")

    r = results.get("latency")
    if r and "error" not in r:
        sizes = [int(s) for s in r["sizes"]]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(sizes, [r["sizes"][str(s)]["p50_ms"] for s in sizes], "o-", label="p50")
        ax.plot(sizes, [r["sizes"][str(s)]["p95_ms"] for s in sizes], "s--", label="p95")
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the index")
        ax.set_ylabel("ms per search")
        ax.set_title("Hybrid retrieval latency (incl. query embedding)")
        ax.legend()
        save(fig, "latency.png", "latency")

    r = results.get("long_conversation")
    if r and "error" not in r:
        turns = [x["turn"] for x in r["rows"]]
        fig, ax = plt.subplots(figsize=(7, 3.8))
        ax.plot(turns, [x["prompt_tokens"] for x in r["rows"]], color="#36c", label="prompt tokens")
        ax.axhline(r["prompt_budget"], color="#36c", ls=":", label="prompt budget")
        ax.set_xlabel("turn")
        ax.set_ylabel("prompt tokens", color="#36c")
        ax2 = ax.twinx()
        ax2.plot(turns, [x["latency_s"] for x in r["rows"]], color="#c63", label="latency")
        ax2.set_ylabel("turn latency (s)", color="#c63")
        ax.set_title(f"{r['turns']}-turn conversation")
        ax.legend(loc="lower right")
        save(fig, "long_conversation.png", "long_conversation")

    r = results.get("concurrency")
    if r and "error" not in r:
        levels = sorted(int(k) for k in r["levels"])
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(levels, [r["levels"][str(n)]["aggregate_tokens_per_s"] for n in levels], "o-", label="aggregate tokens/s")
        ax.set_xlabel("simultaneous streamed chats")
        ax.set_ylabel("tokens/s")
        ax2 = ax.twinx()
        ax2.plot(levels, [r["levels"][str(n)]["ttft_p95_ms"] / 1000 for n in levels], "s--", color="#c63")
        ax2.set_ylabel("TTFT p95 (s)", color="#c63")
        ax.set_title("Concurrency through the HTTP API")
        save(fig, "concurrency.png", "concurrency")
    return plots


def merge_results(paths: list[Path]) -> dict:
    """Sections from several results.json files; a later file's section wins."""
    import json

    merged: dict = {}
    runs = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        meta = {**merged.get("meta", {}), **data.get("meta", {})}
        sections = [k for k in data if k != "meta"]
        runs.append(f"{'--quick ' if data.get('meta', {}).get('quick') else ''}{', '.join(sections)}")
        merged.update({k: v for k, v in data.items() if "error" not in v or k not in merged})
        merged["meta"] = meta
    merged["meta"]["runs"] = runs
    return merged


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.report results.json [...] --out DIR --markdown BENCHMARKS.md``:
    rebuild the report (e.g. from separate runs of single measurements) without measuring."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for plots and the merged results.json")
    parser.add_argument("--markdown", type=Path, required=True)
    args = parser.parse_args(argv)
    results = merge_results(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    write_markdown(results, args.markdown, write_plots(results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
