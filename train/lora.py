"""LoRA training of the local chat model: encode dialogues, add LoRA layers, train, save.

A plain training loop over peft's LoRA (fewer moving parts than a trainer framework,
and the whole run is visible here): every dialogue is rendered with the model's own
chat template (seed 001) and only the assistant's tokens are learned.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.data import Dialogue

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


# --- encoding ---------------------------------------------------------------------------


def render(tokenizer: Any, messages: list[dict], generation_prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_dialogue(tokenizer: Any, messages: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """Token ids of the whole dialogue and labels that keep only the assistant replies
    (with their end-of-turn marker, so the model learns to stop).

    Built from prefix renderings of the template, so each reply is labelled exactly
    where the template puts it. A too-long dialogue keeps its beginning: the replies
    cut off are simply not learned.
    """
    ids = render(tokenizer, messages, False)
    labels = [IGNORE] * len(ids)
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(render(tokenizer, messages[:i], True))
        end = len(render(tokenizer, messages[: i + 1], False))
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


# --- saving and loading ---------------------------------------------------------------


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


def load_base(model_setting: str, device: str) -> tuple[Any, Any, str]:
    """(tokenizer, model, display name) resolved like docchat's ``--model``."""
    from llm.model_paths import resolve_chat_model
    from llm.transformers_backend import _load, display_name

    choice = resolve_chat_model(model_setting, device)
    tokenizer, model = _load(choice.source, choice.gguf_file, choice.device, choice.dtype)
    return tokenizer, model, display_name(choice.source, choice.gguf_file, choice.dtype)
