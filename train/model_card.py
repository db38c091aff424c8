"""What a fine-tuning run leaves beside its adapter: a loss curve and a model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
        "Made by `python -m train`; load it with "
        + ("`--condense-adapter DIR`." if info["task"] == "condense" else "`--adapter DIR`."),
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))
