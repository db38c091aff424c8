"""``python -m train``: LoRA fine-tuning of the local chat model on multi-turn dialogues.

Seed 000's roadmap: train on multi-turn data and measure with BLEU. This is the command:
read the dialogues (train/data.py), split train/dev by dialogue, measure the dev
replies (train/evaluate.py), train LoRA layers (train/lora.py), measure again, and write
the adapter with a loss curve and a model card (train/model_card.py).

    python -m train --data dialogues.jsonl --out adapters/mine
    python -m train --from-db dbcache [--user alice] --out adapters/answers
    python -m train --task condense --dialogues ../shared/eval/cast2021/dialogues.json \
        --out llm/lora_adapters/smollm2-condense
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from train.data import (
    DataError,
    Dialogue,
    condense_dialogues,
    read_db_dialogues,
    read_messages_jsonl,
    split_by_dialogue,
)
from train.evaluate import eval_pairs, evaluate
from train.lora import TrainConfig, add_lora, encode_all, load_base, save_adapter, train
from train.model_card import plot_losses, write_model_card

log = logging.getLogger(__name__)


def load_dialogues(args: argparse.Namespace) -> tuple[list[Dialogue], str]:
    if args.task == "condense":
        if not args.dialogues:
            raise DataError("--dialogues", None, "--task condense needs --dialogues FILE")
        return condense_dialogues(args.dialogues), f"condense examples from {args.dialogues}"
    if args.from_db:
        who = f", user {args.user}" if args.user else ""
        return read_db_dialogues(args.from_db, args.user), f"docchat conversations in {args.from_db}{who}"
    if args.data:
        return read_messages_jsonl(args.data), f"messages JSONL {args.data}"
    raise DataError("arguments", None, "give --data FILE, --from-db DATA_DIR or --task condense --dialogues FILE")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run; returns what the model card says."""
    dialogues, data_label = load_dialogues(args)
    dev_ids = args.dev_dialogues.split(",") if args.dev_dialogues else None
    train_set, dev_set = split_by_dialogue(dialogues, dev_ids, args.dev_fraction, args.seed)
    if not train_set:
        raise DataError(data_label, None, "no dialogue left for training after the dev split")
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, rank=args.rank,
                         alpha=args.alpha, top_layers=args.top_layers, max_length=args.max_length, max_eval=args.max_eval,
                         eval_tokens=args.eval_tokens, seed=args.seed, max_minutes=args.max_minutes)
    tokenizer, model, base_name = load_base(args.model, args.device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    examples = encode_all(tokenizer, train_set, config.max_length)
    if not examples:
        raise DataError(data_label, None, f"no training example fits in --max-length {config.max_length}")
    pairs = eval_pairs(dev_set, config.max_eval)
    log.info("%d train examples from %d dialogues, %d dev replies", len(examples), len({d.id for d in train_set}), len(pairs))
    model = add_lora(model, config)  # first: a bad LoRA setting fails before any slow work
    before, _ = evaluate(model, tokenizer, pairs, args.task, config.eval_tokens, "dev before", args.progress)
    started = time.perf_counter()
    losses = train(model, examples, config, pad_id, args.progress)
    seconds = time.perf_counter() - started
    out = Path(args.out)
    save_adapter(model, out, base_name)
    plot_losses(losses, out / "loss.png")
    after, hyps = evaluate(model, tokenizer, pairs, args.task, config.eval_tokens, "dev after", args.progress)
    window = max(1, min(10, len(losses) // 4))  # first/last steps compared, never overlapping
    head, tail = losses[:window], losses[-window:]
    info = {
        "task": args.task, "base_model": base_name, "data": data_label,
        "train_dialogues": len({d.id for d in train_set}), "dev_dialogues": len({d.id for d in dev_set}),
        "dev_ids": sorted({d.id for d in dev_set}), "train_examples": len(examples), "dev_examples": len(pairs),
        "config": asdict(config), "device": str(next(model.parameters()).device),
        "steps_done": len(losses), "train_seconds": round(seconds, 1), "loss_first": sum(head) / len(head), "loss_last": sum(tail) / len(tail), "loss_window": window,
        "losses": [round(x, 4) for x in losses],
        "dev_before": before, "dev_after": after,
        "samples": [{"reference": ref, "reply": hyp} for (_, ref), hyp in list(zip(pairs, hyps))[:5]],
    }
    write_model_card(out, info)
    return info


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__.split("\n\n")[0])
    src = p.add_argument_group("data (one of)")
    src.add_argument("--data", help="JSONL of {'messages': [...]} dialogues")
    src.add_argument("--from-db", metavar="DATA_DIR", help="docchat's stored conversations (complete answers only)")
    src.add_argument("--user", help="with --from-db: only this user's conversations")
    src.add_argument("--task", choices=("chat", "condense"), default="chat",
                     help="condense: learn docchat's follow-up rewrite from gold rewrites (--dialogues)")
    src.add_argument("--dialogues", help="with --task condense: CAsT-format dialogues with manual rewrites")
    p.add_argument("--out", required=True, help="adapter directory to write")
    p.add_argument("--model", default="auto", help="base model, as docchat's --model (default: auto)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dev-dialogues", help="comma-separated dialogue ids for dev (default: a seeded fraction)")
    p.add_argument("--dev-fraction", type=float, default=0.2)
    defaults = TrainConfig()
    for name in ("steps", "batch_size", "rank", "alpha", "top_layers", "max_length", "max_eval", "eval_tokens", "seed"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop training after this long (0: no limit)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's choice; 1 is steadier on a machine loaded by others)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser().parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        info = run(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    b, a = info["dev_before"], info["dev_after"]
    print(f"adapter saved to {args.out}: loss {info['loss_first']:.3f} → {info['loss_last']:.3f}; "
          f"dev BLEU {b.get('bleu', 0):.1f} → {a.get('bleu', 0):.1f}, chrF {b.get('chrf', 0):.1f} → "
          f"{a.get('chrf', 0):.1f} ({info['train_seconds']:.0f} s training)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
