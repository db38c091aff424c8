"""A chat model run in-process with Hugging Face transformers (HF id, local dir or GGUF).

This is the GPU engine (``auto`` with CUDA: Qwen2.5-3B-Instruct) and the one that serves
per-call LoRA adapters and fine-tuning; on a CPU, GGUF files run on llama.cpp
(``llm.llamacpp_backend``), so the CPU-only speed-ups this backend once had (packed
linear layers, mask-free prefix attention) are gone.

Concurrent requests are decoded together by one generation thread (``llm.batching``):
up to ``max_batch`` answers share each forward pass, each with its own sampling
parameters; beyond that at most ``max_queue`` callers wait and the next one gets
``BackendBusy`` at once. Each request's reader turns its token ids into text, applies
its stop strings and sets the request's ``halt`` event when it has seen a stop string or
goes away; the row then leaves the batch at the next step, as on the caller's ``cancel``.
A request with a ``cache_key`` (one conversation) reuses the KV of its prompt's stable
prefix from the previous turn (``llm.prefix_cache``).

Prompts are rendered with the model's own chat template (seed 001) and only the new
tokens are decoded, never the template's markers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Iterator

from llm.model_paths import ModelNotFound
from llm.stop_strings import StopStringFilter, show_until_stop
from llm.tokens import TokenCounter
from llm.types import BackendBusy, Completion, GenerationParams, Message, PromptTooLong, TextStream, Usage, collect

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 2048
DEFAULT_MAX_BATCH = 8
DEFAULT_PREFIX_CACHE_MB = 512


def sampling_kwargs(params: GenerationParams) -> dict[str, Any]:
    """``generate`` keyword arguments for ``params`` (seed 002 semantics).

    Temperature ~0 means greedy; top_k > 0 switches top_p off; top_p of 0 or 1 means
    off; a repetition penalty of 1.0 is passed explicitly so a checkpoint's own default
    (Qwen ships 1.05) does not sneak in.
    """
    kwargs: dict[str, Any] = {"repetition_penalty": params.repetition_penalty or 1.0}
    if params.greedy:
        kwargs["do_sample"] = False
        return kwargs
    kwargs.update(do_sample=True, temperature=params.temperature)
    if params.top_k > 0:
        kwargs.update(top_k=params.top_k, top_p=1.0)
    else:
        kwargs.update(top_k=0, top_p=params.top_p if 0.0 < params.top_p < 1.0 else 1.0)
    return kwargs


def display_name(source: str, gguf_file: str | None, dtype: str | None) -> str:
    """'SmolLM2-135M-Instruct (GGUF Q4_1)', 'Qwen2.5-3B-Instruct (bfloat16)'."""
    if gguf_file:
        stem = Path(gguf_file).stem
        base, _, quant = stem.rpartition(".")
        return f"{base} (GGUF {quant})" if base else f"{stem} (GGUF)"
    base = source.rstrip("/").split("/")[-1]
    return f"{base} ({dtype})" if dtype else base


class TransformersBackend:
    """``ChatBackend`` over a local transformers causal LM, batching concurrent requests."""

    engine = "transformers"

    def __init__(
        self,
        source: str | Path,
        gguf_file: str | None = None,
        device: str = "cpu",
        dtype: str | None = None,
        context_window: int | None = None,
        max_queue: int = 16,
        max_batch: int = DEFAULT_MAX_BATCH,
        prefix_cache_mb: int = DEFAULT_PREFIX_CACHE_MB,
        adapters: dict[str, Path] | None = None,
    ) -> None:
        started = time.perf_counter()
        self.source = str(source)
        self.gguf_file = gguf_file
        self.device = device
        self.name = display_name(self.source, gguf_file, dtype)
        self.tokenizer, self.model = _load(self.source, gguf_file, device, dtype)
        self.adapters = dict(adapters or {})
        if self.adapters:  # LoRA: one base model, the adapter chosen per request (llm/adapters.py)
            from llm.adapters import attach_adapters, describe

            self.model = attach_adapters(self.model, self.adapters)
            self.name = f"{self.name} + {describe(self.adapters)}"
        self._counter = TokenCounter(self.tokenizer)
        config_window = getattr(self.model.config, "max_position_embeddings", None)
        self.context_window = int(context_window or config_window or DEFAULT_CONTEXT_WINDOW)
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        from llm.batching import BatchScheduler
        from llm.prefix_cache import PrefixCache

        self.prefix_cache = PrefixCache(prefix_cache_mb * 2**20)
        self._scheduler = BatchScheduler(self.model, self._eos_ids, max_batch, max_queue, self.prefix_cache)
        self.load_seconds = time.perf_counter() - started
        logger.info("loaded %s on %s in %.1f s (context window %d tokens, batches of up to %d)",
                    self.name, device, self.load_seconds, self.context_window, max_batch)

    @property
    def max_queue(self) -> int:
        """Requests that may wait beyond the ones decoding; the next one gets ``BackendBusy``."""
        return self._scheduler.max_queue

    @max_queue.setter
    def max_queue(self, value: int) -> None:
        self._scheduler.max_queue = value

    @property
    def max_batch(self) -> int:
        """Requests decoded together in one forward pass."""
        return self._scheduler.max_batch

    @max_batch.setter
    def max_batch(self, value: int) -> None:
        self._scheduler.max_batch = value

    # --- ChatBackend ----------------------------------------------------------------

    def stream(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> TextStream:
        """Queue the request and return the stream of its text deltas.

        Raises ``BackendBusy`` when the batch is full and ``max_queue`` requests already
        wait, and ``PromptTooLong`` when nothing fits.
        """
        from llm.batching import Request

        usage = Usage()
        input_ids = self._counter.encode_chat(messages, add_generation_prompt=True)
        if params.assistant_prefix:  # the answer so far: the model continues it
            input_ids = input_ids + self.tokenizer.encode(params.assistant_prefix, add_special_tokens=False)
        usage.prompt_tokens = len(input_ids)
        room = self.context_window - len(input_ids)
        if room <= 0:
            raise PromptTooLong(
                f"The prompt has {len(input_ids)} tokens; {self.name} takes at most {self.context_window}."
            )
        adapter = None
        cache_key = params.cache_key
        if self.adapters:
            from llm.adapters import adapter_for

            adapter = adapter_for(self.adapters, params.adapter)
            if cache_key is not None:  # a prefix's KV depends on the adapter that computed it
                cache_key = f"{cache_key}\x1f{adapter}"
        request = Request(
            input_ids=input_ids,
            sampling=sampling_kwargs(params),
            max_new_tokens=max(1, min(params.max_new_tokens, room)),
            cancel=cancel,
            cache_key=cache_key,
            stable_tokens=self._stable_tokens(messages, input_ids) if cache_key else 0,
            adapter=adapter,
        )
        self._scheduler.submit(request)
        text_stream = TextStream(self._deltas(request, params, usage), usage)
        weakref.finalize(text_stream, request.halt.set)  # dropped before it was read: stop anyway
        return text_stream

    def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens of ``messages`` rendered with the chat template, assistant header included."""
        return self._counter.count_messages(messages)

    def count_text_tokens(self, text: str) -> int:
        return self._counter.count_text(text)

    def truncate_text(self, text: str, max_tokens: int) -> str:
        return self._counter.truncate(text, max_tokens)

    # --- internals ------------------------------------------------------------------

    def _stable_tokens(self, messages: list[Message], input_ids: list[int]) -> int:
        """Prompt tokens before the last message: what the next turn of this conversation repeats."""
        from llm.prefix_cache import common_prefix

        if len(messages) < 2:
            return 0
        before = self._counter.encode_chat(messages[:-1], add_generation_prompt=False)
        return common_prefix(before, input_ids)

    def _deltas(self, request: Request, params: GenerationParams, usage: Usage) -> Iterator[str]:
        stops = StopStringFilter(params.stop)
        finished = False
        try:
            yield from show_until_stop(_pieces(request, _Detokenizer(self.tokenizer)), stops, request.halt)
            finished = True
        finally:
            if not finished:
                request.halt.set()  # the reader went away: its row leaves the batch at the next step
            # A dropped stream may be finalized by the garbage collector on any thread,
            # even the generation thread, which must not wait for itself.
            if threading.current_thread() is not self._scheduler.thread:
                request.done.wait()
                _fill_usage(usage, request, stopped_by_string=stops.stopped, eos_ids=self._eos_ids,
                            abandoned=not finished)
                usage.stopped_by = stops.hit
        if request.error is not None:
            raise request.error


def _pieces(request: Request, text: _Detokenizer) -> Iterator[str]:
    """Text of each generated token as the batch thread hands it over, the rest at the end."""
    from llm.batching import END

    while (item := request.events.get()) is not END:
        yield text.add(item)
    yield text.flush()


class _Detokenizer:
    """Token ids in, new text out; holds back an incomplete UTF-8 character."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.shown = 0

    def add(self, token: int) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        delta = text[self.shown:]
        if text.endswith("\n"):  # a line is final: start afresh so decoding stays short
            self.ids, self.shown = [], 0
        else:
            self.shown = len(text)
        return delta

    def flush(self) -> str:
        """The rest; a character cut in half by the token limit is dropped, not shown as '\ufffd'."""
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True).rstrip("\ufffd")
        self.ids, self.shown, delta = [], 0, text[self.shown:]
        return delta


def _fill_usage(usage: Usage, request: Request, stopped_by_string: bool, eos_ids: set[int],
                abandoned: bool = False) -> None:
    """Counts and why generation ended; a stream its reader dropped counts as cancelled."""
    new_ids = request.new_ids
    usage.completion_tokens = len(new_ids)
    usage.cached_prompt_tokens = request.reused_tokens
    ended_on_eos = bool(new_ids) and new_ids[-1] in eos_ids
    if abandoned or (request.cancel is not None and request.cancel.is_set()):
        usage.finish_reason = "cancelled"
    elif stopped_by_string or ended_on_eos:
        usage.finish_reason = "stop"
    elif len(new_ids) >= request.max_new_tokens:
        usage.finish_reason = "length"
    else:
        usage.finish_reason = "stop"


def gguf_cache_dir(source: str, gguf_file: str) -> Path:
    """Where the converted weights of a GGUF file are kept between runs.

    transformers de-quantizes a GGUF file on every load (20–60 s for the bundled
    SmolLM2 on 2 cores); saving the converted model once makes later starts take a few
    seconds. The key includes the file's size and mtime so a changed file is converted
    again. ``DOCCHAT_MODEL_CACHE`` overrides the location.
    """
    path = Path(source) / gguf_file
    stat = path.stat()
    root = Path(os.environ.get("DOCCHAT_MODEL_CACHE") or Path.home() / ".cache" / "docchat" / "models")
    return root / f"{Path(gguf_file).stem}-{stat.st_size}-{int(stat.st_mtime)}"


def _load(source: str, gguf_file: str | None, device: str, dtype: str | None) -> tuple[Any, Any]:
    """Tokenizer and model, with loading failures turned into ``ModelNotFound``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache = gguf_cache_dir(source, gguf_file) if gguf_file and (Path(source) / gguf_file).is_file() else None
    if cache is not None and (cache / "config.json").is_file():
        source, gguf_file = str(cache), None  # converted earlier: skip de-quantizing
    extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    model_kwargs: dict[str, Any] = dict(extra)
    if dtype:
        model_kwargs["dtype"] = getattr(torch, dtype)
    if device != "cpu":
        model_kwargs["device_map"] = device
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **extra)
        model = AutoModelForCausalLM.from_pretrained(source, **model_kwargs)
    except OSError as exc:
        raise ModelNotFound(
            f"Could not load chat model {source!r}{' / ' + gguf_file if gguf_file else ''}: {exc}. "
            "Check the --model value, or download the model while online."
        ) from exc
    model.eval()
    if cache is not None and gguf_file:
        _save_converted(tokenizer, model, cache)
    return tokenizer, model


def _save_converted(tokenizer: Any, model: Any, cache: Path) -> None:
    """Save a converted GGUF model atomically (temp dir + rename); failures only log."""
    tmp = cache.with_name(f"{cache.name}.tmp-{os.getpid()}")
    try:
        from safetensors.torch import save_model

        tmp.mkdir(parents=True, exist_ok=True)
        # save_pretrained refuses models loaded from GGUF; the de-quantized weights
        # are plain tensors, so write them and a config without the GGUF marker.
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["architectures"] = [type(model).__name__]  # llama.cpp's convert_lora_to_gguf.py reads it
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, cache)
        logger.info("cached the converted model under %s", cache)
    except (OSError, ValueError, RuntimeError) as exc:  # read-only home, concurrent save: loading still worked
        logger.warning("could not cache the converted model (%s)", exc)
        shutil.rmtree(tmp, ignore_errors=True)
