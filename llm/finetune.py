"""``python -m llm.finetune``: LoRA fine-tuning of the local chat model on multi-turn dialogues.

Seed 000's roadmap: train on multi-turn data and measure with BLEU. A plain training
loop over peft's LoRA (fewer moving parts than a trainer framework, and the whole run
is visible here): every dialogue is rendered with the model's own chat template (seed
001) and only the assistant's tokens are learned. Train and dev never share a
dialogue; BLEU and chrF (sacrebleu) of the dev answers are measured before and after,
and the adapter directory gets a loss curve and a model card.

    python -m llm.finetune --data dialogues.jsonl --out adapters/mine
    python -m llm.finetune --from-db dbcache [--user alice] --out adapters/answers
    python -m llm.finetune --task condense --dialogues ../shared/eval/cast2021/dialogues.json \
        --out llm/lora_adapters/smollm2-condense
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llm.finetune_data import (
    DataError,
    Dialogue,
    condense_dialogues,
    read_db_dialogues,
    read_messages_jsonl,
    split_by_dialogue,
)

log = logging.getLogger(__name__)

IGNORE = -100  # label of tokens the loss skips (prompt, template markers)


@dataclass
class TrainConfig:
    """Knobs of one run; saved in the adapter's model card."""

    steps: int = 200
    batch_size: int = 4
    lr: float = 3e-4
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str = "all-linear"
    top_layers: int = 0  # LoRA on the last N transformer layers only (0 = all): a shorter backward pass
    max_length: int = 512
    max_eval: int = 40
    eval_tokens: int = 64
    seed: int = 0
    max_minutes: float = 0.0  # stop training after this long (0 = run every step)


@dataclass
class Example:
    dialogue: str
    input_ids: list[int]
    labels: list[int]


@dataclass
class RunResult:
    losses: list[float] = field(default_factory=list)
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    samples: list[dict[str, str]] = field(default_factory=list)


# --- encoding ---------------------------------------------------------------------------


def _render(tokenizer: Any, messages: list[dict], generation_prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_dialogue(tokenizer: Any, messages: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """Token ids of the whole dialogue and labels that keep only the assistant replies
    (with their end-of-turn marker, so the model learns to stop).

    Built from prefix renderings of the template, so each reply is labelled exactly
    where the template puts it. A too-long dialogue keeps its beginning: the replies
    cut off are simply not learned.
    """
    ids = _render(tokenizer, messages, False)
    labels = [IGNORE] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(_render(tokenizer, messages[:i], True))
        end = len(_render(tokenizer, messages[: i + 1], False))
        end = min(end, len(ids))
        labels[start:end] = ids[start:end]
    ids, labels = ids[:max_length], labels[:max_length]
    return ids, labels


def encode_all(tokenizer: Any, dialogues: list[Dialogue], max_length: int) -> list[Example]:
    examples = []
    for d in dialogues:
        ids, labels = encode_dialogue(tokenizer, d.messages, max_length)
        if any(label != IGNORE for label in labels):
            examples.append(Example(d.id, ids, labels))
        else:
            log.warning("dialogue %s: no assistant token within %d tokens; skipped", d.id, max_length)
    return examples


def eval_pairs(dialogues: list[Dialogue], limit: int) -> list[tuple[list[dict], str]]:
    """(prompt messages, reference reply) for each assistant turn, the first ``limit``."""
    pairs = []
    for d in dialogues:
        for i, m in enumerate(d.messages):
            if m["role"] == "assistant" and i > 0:
                pairs.append((d.messages[:i], m["content"]))
    return pairs[:limit]


# --- training -----------------------------------------------------------------------------


def _batch(examples: list[Example], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def add_lora(model: Any, config: TrainConfig) -> Any:
    """LoRA layers on ``model``; they start as a no-op (B = 0), so the output is the base model's."""
    import torch
    from peft import LoraConfig, get_peft_model

    layers, targets = None, config.target_modules
    total = getattr(model.config, "num_hidden_layers", 0)
    if config.top_layers and total:
        layers = list(range(max(0, total - config.top_layers), total))
        if targets == "all-linear":  # peft wants names with layers_to_transform
            targets = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                              if isinstance(module, torch.nn.Linear) and ".layers." in name})
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=targets, layers_to_transform=layers, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def train(model: Any, examples: list[Example], config: TrainConfig, pad_id: int, progress: bool = True) -> list[float]:
    """AdamW with linear warm-up/decay over ``config.steps`` batches; returns the loss per step.

    Batches are drawn from a seeded shuffle, similar lengths together (less padding).
    """
    import torch
    from tqdm import tqdm

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    warmup = max(1, config.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (config.steps - s) / max(1, config.steps - warmup)))
    )
    device = next(model.parameters()).device
    model.train()
    losses: list[float] = []
    order: list[Example] = []
    bar = tqdm(range(config.steps), desc="training", unit="step", disable=not progress, file=sys.stderr)
    deadline = time.monotonic() + config.max_minutes * 60 if config.max_minutes > 0 else None
    for _ in bar:
        if deadline is not None and time.monotonic() > deadline:
            log.warning("--max-minutes %.1f reached after %d steps; stopping", config.max_minutes, len(losses))
            break
        if len(order) < config.batch_size:
            more = examples[:]
            rng.shuffle(more)
            order += more
        chunk, order = order[: config.batch_size], order[config.batch_size :]
        batch = {k: v.to(device) for k, v in _batch(chunk, pad_id).items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


# --- evaluation ---------------------------------------------------------------------------


def generate_replies(model: Any, tokenizer: Any, prompts: list[list[dict]], max_new_tokens: int,
                     progress: bool = True, desc: str = "dev") -> list[str]:
    """Greedy replies, one prompt at a time (no padding effects on a tiny model)."""
    import torch
    from tqdm import tqdm

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    for messages in tqdm(prompts, desc=desc, unit="reply", disable=not progress, file=sys.stderr):
        ids = torch.tensor([_render(tokenizer, messages, True)], device=device)
        with torch.inference_mode():
            generated = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                       max_new_tokens=max_new_tokens, pad_token_id=pad)
        out.append(tokenizer.decode(generated[0, ids.shape[1]:], skip_special_tokens=True).strip())
    return out


def score(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu, default tokenization)."""
    import sacrebleu

    if not hypotheses:
        return {"bleu": 0.0, "chrf": 0.0, "n": 0}
    return {
        "bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
        "chrf": round(sacrebleu.corpus_chrf(hypotheses, [references]).score, 2),
        "n": len(hypotheses),
    }


def postprocess(task: str, reply: str, prompt: list[dict]) -> str:
    """What docchat would use of a reply: the condense step keeps one cleaned line."""
    if task != "condense":
        return reply
    from rag.condense import clean_condensed

    question = prompt[-1]["content"].rsplit("Follow-up question:", 1)[-1].split("\n", 1)[0].strip()
    return clean_condensed(reply, question)


def evaluate(model: Any, tokenizer: Any, pairs: list[tuple[list[dict], str]], task: str, max_new_tokens: int,
             desc: str, progress: bool = True) -> tuple[dict[str, float], list[str]]:
    prompts = [p for p, _ in pairs]
    replies = generate_replies(model, tokenizer, prompts, max_new_tokens, progress, desc)
    hyps = [postprocess(task, r, p) for r, p in zip(replies, prompts)]
    return score(hyps, [ref for _, ref in pairs]), hyps


# --- outputs ------------------------------------------------------------------------------


def plot_losses(losses: list[float], path: Path) -> None:
    """Loss per step and a moving average, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - window + 1): i + 1]) / len(losses[max(0, i - window + 1): i + 1])
              for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, alpha=0.35, label="loss per step")
    ax.plot(smooth, label=f"mean of {window}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (assistant tokens)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_model_card(out: Path, info: dict[str, Any]) -> None:
    """README.md for people, finetune.json for programs (the bench reads it)."""
    (out / "finetune.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    before, after = info["dev_before"], info["dev_after"]
    lines = [
        f"# LoRA adapter: {info['task']}",
        "",
        f"- base model: `{info['base_model']}`",
        f"- data: {info['data']} — {info['train_dialogues']} train / {info['dev_dialogues']} dev dialogues "
        f"({info['train_examples']} / {info['dev_examples']} examples); dev dialogues: {', '.join(info['dev_ids'])}",
        f"- training: {info['steps_done']} steps × batch {info['config']['batch_size']}, lr {info['config']['lr']}, "
        f"LoRA r={info['config']['rank']} α={info['config']['alpha']} on {info['config']['target_modules']}"
        f"{' of the last ' + str(info['config']['top_layers']) + ' layers' if info['config']['top_layers'] else ''}, "
        f"max {info['config']['max_length']} tokens; {info['train_seconds']:.0f} s on {info['device']}",
        f"- loss: {info['loss_first']:.3f} (first {info['loss_window']} steps) → {info['loss_last']:.3f} "
        f"(last {info['loss_window']} steps); see loss.png",
        "",
        "| dev (sacrebleu) | BLEU | chrF |",
        "|---|---|---|",
        f"| base model | {before.get('bleu', 0):.1f} | {before.get('chrf', 0):.1f} |",
        f"| with this adapter | {after.get('bleu', 0):.1f} | {after.get('chrf', 0):.1f} |",
        "",
        "Made by `python -m llm.finetune`; load it with "
        + ("`--condense-adapter DIR`." if info["task"] == "condense" else "`--adapter DIR`."),
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))


def save_adapter(model: Any, out: Path, base_name: str, half: bool = True) -> None:
    """peft's adapter files; fp16 weights (half the size; loading casts back). The base
    model is recorded by name, not by this machine's cache path."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = base_name
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    weights = out / "adapter_model.safetensors"
    if half and weights.is_file():
        import torch
        from safetensors.torch import load_file, save_file

        tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(weights).items()}
        save_file(tensors, weights, metadata={"format": "pt"})


# --- the command ---------------------------------------------------------------------------


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


def load_base(model_setting: str, device: str) -> tuple[Any, Any, str]:
    """(tokenizer, model, display name) resolved like docchat's ``--model``."""
    from llm.model_paths import resolve_chat_model
    from llm.transformers_backend import _load, display_name

    choice = resolve_chat_model(model_setting, device)
    tokenizer, model = _load(choice.source, choice.gguf_file, choice.device, choice.dtype)
    return tokenizer, model, display_name(choice.source, choice.gguf_file, choice.dtype)


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
    p = argparse.ArgumentParser(prog="python -m llm.finetune", description=__doc__.split("\n\n")[0])
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
