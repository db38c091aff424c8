"""One thread runs every local generation; concurrent requests share each decode step.

Why: a 135M model on a CPU (or a 3B model on a GPU) spends a decode step mostly on
overhead that does not grow with the batch, so eight answers decoded together cost
little more than one. A request is prefilled alone (its prompt's KV, reusing a cached
prefix of its conversation when there is one), then joins the running batch; each step
feeds every row's last token, samples per row with that request's own parameters, and
hands the token to the request's reader. A row leaves the batch as soon as it ends
(end-of-sequence, max tokens, its stop string, its cancel event, its reader gone); the
others go on. At most ``max_batch`` rows decode together; beyond that up to
``max_queue`` requests wait, and the next caller gets ``BackendBusy``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

from llm.kv_cache import cache_kv, make_cache, merge_kv, slice_kv
from llm.prefix_cache import PrefixCache
from llm.types import BackendBusy

logger = logging.getLogger(__name__)

END = object()  # last event of a request's queue


@dataclass(eq=False)
class Request:
    """One generation: its prompt, sampling, limits, and the queue its reader drains."""

    input_ids: list[int]
    sampling: dict[str, Any]  # transformers_backend.sampling_kwargs(params)
    max_new_tokens: int
    cancel: threading.Event | None = None
    cache_key: str | None = None
    stable_tokens: int = 0  # leading prompt tokens worth caching for the next turn
    adapter: str | None = None  # peft adapter name of this row (llm/adapters.py); None: no peft model
    halt: threading.Event = field(default_factory=threading.Event)  # stop string seen or reader gone
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)  # token ids, then END
    done: threading.Event = field(default_factory=threading.Event)
    new_ids: list[int] = field(default_factory=list)
    reused_tokens: int = 0  # prompt tokens taken from the prefix cache
    error: BaseException | None = None

    def should_stop(self) -> bool:
        return self.halt.is_set() or (self.cancel is not None and self.cancel.is_set())


class _Sampler:
    """Next token for one row, with that request's own logits processors (as ``generate`` builds them)."""

    def __init__(self, sampling: dict[str, Any]) -> None:
        from transformers import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor,
                                  TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)

        self.processors = LogitsProcessorList()
        penalty = sampling.get("repetition_penalty", 1.0)
        if penalty != 1.0:
            self.processors.append(RepetitionPenaltyLogitsProcessor(penalty=penalty))
        self.do_sample = bool(sampling.get("do_sample"))
        if self.do_sample:
            if sampling.get("temperature", 1.0) != 1.0:
                self.processors.append(TemperatureLogitsWarper(sampling["temperature"]))
            if sampling.get("top_k", 0) > 0:
                self.processors.append(TopKLogitsWarper(sampling["top_k"]))
            if sampling.get("top_p", 1.0) < 1.0:
                self.processors.append(TopPLogitsWarper(sampling["top_p"]))

    def __call__(self, history: list[int], logits: torch.Tensor) -> int:
        scores = logits.float()
        if len(self.processors):
            ids = torch.tensor([history], device=logits.device)
            scores = self.processors(ids, scores)
        if self.do_sample:
            return int(torch.multinomial(torch.softmax(scores, dim=-1), 1)[0, 0])
        return int(scores.argmax(dim=-1)[0])


@dataclass(eq=False)
class _Row:
    request: Request
    sampler: _Sampler
    history: list[int]  # prompt + generated, for the repetition penalty
    position: int  # position id of the next token fed


class BatchScheduler:
    """Owns the model's forward passes; ``submit`` requests from any thread."""

    def __init__(self, model: Any, eos_ids: set[int], max_batch: int, max_queue: int,
                 prefix_cache: PrefixCache) -> None:
        self.model = model
        self.eos_ids = eos_ids
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.prefix_cache = prefix_cache
        self._num_layers = int(model.config.get_text_config().num_hidden_layers)
        self._pending: deque[Request] = deque()
        self._in_flight = 0  # submitted, not yet finished
        self._cond = threading.Condition()
        self._rows: list[_Row] = []
        self._cache: Any = None  # transformers Cache of the running batch
        self._mask: torch.Tensor | None = None  # (rows, width) 1 = real token, 0 = left padding
        self.thread = threading.Thread(target=self._loop, name="generate", daemon=True)
        self.thread.start()

    # --- called by readers ------------------------------------------------------------

    def submit(self, request: Request) -> None:
        with self._cond:
            waiting = self._in_flight - self.max_batch
            if waiting >= self.max_queue:
                raise BackendBusy(f"{max(waiting, 0)} requests are already waiting for the model.")
            self._in_flight += 1
            self._pending.append(request)
            self._cond.notify()

    # --- the generation thread ----------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._rows:
                    self._cond.wait()
                admit = []
                while self._pending and len(self._rows) + len(admit) < self.max_batch:
                    admit.append(self._pending.popleft())
                gave_up = [r for r in self._pending if r.should_stop()]  # cancelled while waiting
                for request in gave_up:
                    self._pending.remove(request)
            for request in gave_up:
                self._finish(request)
            try:
                with torch.inference_mode():
                    for request in admit:
                        self._admit(request)
                    self._drop_finished()
                    if self._rows:
                        self._step()
                        self._drop_finished()
            except BaseException as exc:  # a failed batched step fails its rows, not the thread
                logger.exception("generation step failed")
                for row in self._rows:
                    self._finish(row.request, exc)
                self._rows, self._cache, self._mask = [], None, None

    def _admit(self, request: Request) -> None:
        """Prefill one request alone, sample its first token, and add it to the batch."""
        if request.should_stop():
            self._finish(request)
            return
        try:
            ids = request.input_ids
            reuse, stored = self.prefix_cache.lookup(request.cache_key, ids)
            cache = make_cache(self._num_layers, slice_kv_view(stored, reuse) if stored else None)
            request.reused_tokens = reuse
            device = self.model.device
            out = self.model(
                input_ids=torch.tensor([ids[reuse:]], device=device),
                position_ids=torch.arange(reuse, len(ids), device=device).unsqueeze(0),
                past_key_values=cache, use_cache=True, logits_to_keep=1,
                **_adapter_kwargs([request]),
            )
            if request.cache_key is not None and request.stable_tokens:
                stable = request.stable_tokens
                self.prefix_cache.store(request.cache_key, ids[:stable], slice_kv(cache_kv(cache), 0, stable))
            row = _Row(request, _Sampler(request.sampling), list(ids), len(ids))
            token = row.sampler(row.history, out.logits[:, -1, :])
        except Exception as exc:  # this prompt failed (e.g. out of memory): only this request
            logger.exception("prefill failed")
            self._finish(request, exc)
            return
        if self._emit(row, token):
            self._finish(request)
            return
        self._join(row, cache, len(ids))

    def _join(self, row: _Row, cache: Any, length: int) -> None:
        ones = torch.ones((1, length), dtype=torch.long, device=self.model.device)
        if not self._rows:
            self._rows, self._cache, self._mask = [row], cache, ones
            return
        width = self._mask.shape[1]
        merged = merge_kv(cache_kv(self._cache), width, cache_kv(cache), length)
        new_width = max(width, length)
        pad = lambda m, w: torch.cat([m.new_zeros((m.shape[0], new_width - w)), m], dim=1)  # noqa: E731
        self._mask = torch.cat([pad(self._mask, width), pad(ones, length)], dim=0)
        self._cache = make_cache(self._num_layers, merged)
        self._rows.append(row)

    def _step(self) -> None:
        """One decode step for every row of the batch."""
        device = self.model.device
        rows = self._rows
        self._mask = torch.cat([self._mask, self._mask.new_ones((len(rows), 1))], dim=1)
        out = self.model(
            input_ids=torch.tensor([[row.history[-1]] for row in rows], device=device),
            position_ids=torch.tensor([[row.position] for row in rows], device=device),
            attention_mask=self._mask, past_key_values=self._cache, use_cache=True,
            **_adapter_kwargs([row.request for row in rows]),
        )
        logits = out.logits[:, -1, :]
        for i, row in enumerate(rows):
            row.position += 1
            if row.request.should_stop():
                continue
            if self._emit(row, row.sampler(row.history, logits[i:i + 1])):
                row.request.halt.set()  # ended: leaves the batch below

    def _emit(self, row: _Row, token: int) -> bool:
        """Hand ``token`` to the reader; True when the request is complete."""
        request = row.request
        row.history.append(token)
        request.new_ids.append(token)
        request.events.put(token)
        return token in self.eos_ids or len(request.new_ids) >= request.max_new_tokens

    def _drop_finished(self) -> None:
        keep = [i for i, row in enumerate(self._rows) if not row.request.should_stop()]
        if len(keep) == len(self._rows):
            return
        for i, row in enumerate(self._rows):
            if i not in keep:
                self._finish(row.request)
        logger.debug("batch: %d rows left, %d requests in flight", len(keep), self._in_flight)
        if not keep:
            self._rows, self._cache, self._mask = [], None, None
            return
        index = torch.tensor(keep, device=self.model.device)
        mask = self._mask.index_select(0, index)
        first = int((mask.sum(dim=0) > 0).nonzero()[0, 0])  # columns that are padding in every row go
        kv = slice_kv(cache_kv(self._cache), first, mask.shape[1], rows=index)
        self._rows = [self._rows[i] for i in keep]
        self._mask = mask[:, first:]
        self._cache = make_cache(self._num_layers, kv)

    def _finish(self, request: Request, error: BaseException | None = None) -> None:
        """End ``request`` once (a failed step may reach rows that just ended)."""
        with self._cond:
            if request.done.is_set():
                return
            self._in_flight -= 1
            request.error = error
            request.events.put(END)
            request.done.set()


def _adapter_kwargs(requests: list[Request]) -> dict[str, Any]:
    """peft's ``adapter_names``: each batch row runs with its own LoRA adapter (or the base)."""
    if requests[0].adapter is None:
        return {}
    return {"adapter_names": [r.adapter for r in requests]}


def slice_kv_view(kv: Any, end: int) -> Any:
    """The first ``end`` positions of stored KV, as views (``make_cache`` copies them)."""
    return [(k[..., :end, :], v[..., :end, :]) for k, v in kv]
