"""Dev-set evaluation of a fine-tuned model: greedy replies scored with BLEU and chrF (sacrebleu).

Train and dev never share a dialogue (``train.data.split_by_dialogue``); the same dev
replies are measured before and after training.
"""

from __future__ import annotations

import sys
from typing import Any

from train.data import Dialogue
from train.lora import render


def eval_pairs(dialogues: list[Dialogue], limit: int) -> list[tuple[list[dict], str]]:
    """(prompt messages, reference reply) for each assistant turn, the first ``limit``."""
    pairs = []
    for d in dialogues:
        for i, m in enumerate(d.messages):
            if m["role"] == "assistant" and i > 0:
                pairs.append((d.messages[:i], m["content"]))
    return pairs[:limit]


def generate_replies(model: Any, tokenizer: Any, prompts: list[list[dict]], max_new_tokens: int,
                     progress: bool = True, desc: str = "dev") -> list[str]:
    """Greedy replies, one prompt at a time (no padding effects on a tiny model)."""
    import torch
    from tqdm import tqdm

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    for messages in tqdm(prompts, desc=desc, unit="reply", disable=not progress, file=sys.stderr):
        ids = torch.tensor([render(tokenizer, messages, True)], device=device)
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
