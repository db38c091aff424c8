"""A chat model run in-process with Hugging Face transformers (HF id, local dir or GGUF).

One generation runs at a time (a lock); at most ``max_queue`` callers wait for it and
the next one gets ``BackendBusy`` at once. ``generate`` runs in a worker thread that
feeds a ``TextIteratorStreamer``; a stopping criterion watches the caller's ``cancel``
event (and our own, set when a stop string appears or the reader goes away), so the
model is free for the next request one token after a stop. The worker, not the reader,
owns the lock: a reader that never finishes cannot keep the model busy.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from llm.model_paths import ModelNotFound
from llm.stop_strings import StopStringFilter
from llm.tokens import TokenCounter
from llm.types import BackendBusy, Completion, GenerationParams, Message, PromptTooLong, TextStream, Usage

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 2048


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
    """``ChatBackend`` over a local transformers causal LM."""

    def __init__(
        self,
        source: str | Path,
        gguf_file: str | None = None,
        device: str = "cpu",
        dtype: str | None = None,
        context_window: int | None = None,
        max_queue: int = 16,
        adapters: dict[str, Path] | None = None,
    ) -> None:
        started = time.perf_counter()
        self.source = str(source)
        self.gguf_file = gguf_file
        self.device = device
        self.max_queue = max_queue
        self.name = display_name(self.source, gguf_file, dtype)
        self.tokenizer, self.model = _load(self.source, gguf_file, device, dtype)
        self.adapters = dict(adapters or {})
        if self.adapters:  # LoRA: one base model, adapter chosen per call (llm/adapters.py)
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
        self._pad_id = self.tokenizer.pad_token_id
        if self._pad_id is None:
            self._pad_id = min(self._eos_ids) if self._eos_ids else 0
        self._model_lock = threading.Lock()
        # One long-lived generation thread: a fresh thread per answer made generate()
        # about 3x slower on a GPU (measured on an H100, scripts/gpu_overhead.py).
        self._worker_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._queue_lock = threading.Lock()
        self._waiting = 0
        self.load_seconds = time.perf_counter() - started
        logger.info("loaded %s on %s in %.1f s (context window %d tokens)",
                    self.name, device, self.load_seconds, self.context_window)

    # --- ChatBackend ----------------------------------------------------------------

    def stream(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> TextStream:
        """Start generating and return the stream of text deltas.

        Waits (bounded, see ``max_queue``) for the model; raises ``BackendBusy`` when
        too many callers already wait and ``PromptTooLong`` when nothing fits.
        """
        usage = Usage()
        input_ids = self._counter.encode_chat(messages, add_generation_prompt=True)
        usage.prompt_tokens = len(input_ids)
        room = self.context_window - len(input_ids)
        if room <= 0:
            raise PromptTooLong(
                f"The prompt has {len(input_ids)} tokens; {self.name} takes at most {self.context_window}."
            )
        max_new = max(1, min(params.max_new_tokens, room))
        if not self._wait_for_model(cancel):
            usage.finish_reason = "cancelled"
            return TextStream(iter(()), usage)
        try:
            run = _Generation(self, input_ids, params, max_new, cancel, usage)
            run.start()
        except BaseException:
            self._model_lock.release()
            raise
        text_stream = TextStream(run.deltas(), usage)
        weakref.finalize(text_stream, run.halt.set)  # dropped before it was read: stop anyway
        return text_stream

    def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        stream = self.stream(messages, params)
        text = "".join(stream)
        return Completion(text=text, usage=stream.usage)

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens of ``messages`` rendered with the chat template, assistant header included."""
        return self._counter.count_messages(messages)

    def count_text_tokens(self, text: str) -> int:
        return self._counter.count_text(text)

    def truncate_text(self, text: str, max_tokens: int) -> str:
        return self._counter.truncate(text, max_tokens)

    # --- internals ------------------------------------------------------------------

    def _wait_for_model(self, cancel: threading.Event | None) -> bool:
        """Take the model lock; False when ``cancel`` was set while waiting."""
        with self._queue_lock:
            if self._model_lock.locked() and self._waiting >= self.max_queue:
                raise BackendBusy(f"{self._waiting} requests are already waiting for {self.name}.")
            self._waiting += 1
        try:
            while not self._model_lock.acquire(timeout=0.1):
                if cancel is not None and cancel.is_set():
                    return False
            return True
        finally:
            with self._queue_lock:
                self._waiting -= 1


class _Generation:
    """One ``generate`` call in a worker thread, read through a streamer."""

    def __init__(
        self,
        backend: TransformersBackend,
        input_ids: list[int],
        params: GenerationParams,
        max_new_tokens: int,
        cancel: threading.Event | None,
        usage: Usage,
    ) -> None:
        from transformers import TextIteratorStreamer

        self.backend = backend
        self.input_ids = input_ids
        self.params = params
        self.max_new_tokens = max_new_tokens
        self.cancel = cancel
        self.halt = threading.Event()  # ours: stop string seen or reader gone
        self.usage = usage
        self.new_ids: list[int] = []
        self.error: BaseException | None = None
        self.streamer = TextIteratorStreamer(backend.tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.done = threading.Event()
        self.worker: threading.Thread | None = None

    def start(self) -> None:
        self.backend._worker_pool.submit(self._run)

    def _should_stop(self) -> bool:
        return self.halt.is_set() or (self.cancel is not None and self.cancel.is_set())

    def _run(self) -> None:
        self.worker = threading.current_thread()
        try:
            self._generate()
        finally:
            self.done.set()

    def _generate(self) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        from llm.adapters import generate_kwargs

        generation = self

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
                stop = generation._should_stop()
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

        backend = self.backend
        try:
            ids = torch.tensor([self.input_ids], device=backend.model.device)
            with torch.inference_mode():
                out = backend.model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=backend._pad_id,
                    streamer=self.streamer,
                    stopping_criteria=StoppingCriteriaList([_Stop()]),
                    **sampling_kwargs(self.params),
                    **generate_kwargs(backend.adapters, self.params.adapter),
                )
            self.new_ids = out[0, len(self.input_ids):].tolist()
        except BaseException as exc:  # handed to the reader, which re-raises it
            self.error = exc
            self.streamer.end()
        finally:
            backend._model_lock.release()

    def deltas(self) -> Iterator[str]:
        stops = StopStringFilter(self.params.stop)
        finished = False
        try:
            for piece in self.streamer:
                shown = stops.feed(piece)
                if shown:
                    yield shown
                if stops.stopped:
                    self.halt.set()
                    break
            tail = stops.flush()
            if tail:
                yield tail
            finished = True
        finally:
            if not finished:
                self.halt.set()  # the reader went away: free the model now
            # A dropped stream may be finalized by the garbage collector on any thread,
            # even this generation's own worker, which must not wait for itself.
            if threading.current_thread() is not self.worker:
                self.done.wait()
                self._fill_usage(stopped_by_string=stops.stopped)
        if self.error is not None:
            raise self.error

    def _fill_usage(self, stopped_by_string: bool) -> None:
        self.usage.completion_tokens = len(self.new_ids)
        ended_on_eos = bool(self.new_ids) and self.new_ids[-1] in self.backend._eos_ids
        if self.cancel is not None and self.cancel.is_set():
            self.usage.finish_reason = "cancelled"
        elif stopped_by_string or ended_on_eos:
            self.usage.finish_reason = "stop"
        elif len(self.new_ids) >= self.max_new_tokens:
            self.usage.finish_reason = "length"
        else:
            self.usage.finish_reason = "stop"


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
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, cache)
        logger.info("cached the converted model under %s", cache)
    except (OSError, ValueError, RuntimeError) as exc:  # read-only home, concurrent save: loading still worked
        logger.warning("could not cache the converted model (%s)", exc)
        shutil.rmtree(tmp, ignore_errors=True)
