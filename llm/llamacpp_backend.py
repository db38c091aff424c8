"""A GGUF chat model run in-process by llama.cpp (llama-cpp-python): docchat's CPU engine.

One ``Llama`` context does one generation at a time on a worker thread; at most
``max_queue`` callers wait behind it and the next one gets ``BackendBusy`` at once (the
same contract as the other backends). Each request's reader turns token ids into text,
applies stop strings and sets ``halt`` when it has what it needs or goes away; the worker
checks ``halt`` and the caller's ``cancel`` between prefill chunks and between tokens, so
Stop frees the model within one chunk even during a long prefill.

KV reuse (a follow-up turn prefills only what changed; a first turn starts from the
server's system prompt): llm/llamacpp_states.py.

Speculative decoding (``speculation``, llm/speculation.py): after each sampled token the
drafter guesses the next few; one forward pass evaluates the token and the guesses, and the
sampler then samples position by position from that pass's logits, keeping guesses while
they equal what it samples. Each kept token is the sampler's own choice at its position,
drawn with one sampler call per token exactly as one-token decoding draws it, and with flash
attention a token's logits are the same in a batch as alone (``FLASH_ATTENTION``), so the
greedy text is byte for byte the same and a seeded sampled answer too (temperature > 0 keeps
speculation: the guesses are only accepted less often). The loop is ours rather than ``Llama.generate(draft_model=)``:
that one keeps logits for every prompt token (an ``n_ctx`` x vocabulary array, and the output
layer run on every prefill token) and counts neither drafted nor accepted tokens.

Prompts are rendered with the chat template stored in the GGUF (seed 001), and the
context window comes from the GGUF's training length (at most ``DEFAULT_MAX_CONTEXT``
unless ``context_window`` says otherwise, which bounds the KV memory).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from llm.llamacpp_model import chat_formatter, default_threads, sampling_kwargs, trained_context
from llm.llamacpp_states import DEFAULT_KV_CACHE_MB, ContextStates
from llm.prefix_cache import common_prefix
from llm.speculation import Drafter, make_drafter
from llm.stop_strings import StopStringFilter, show_until_stop
from llm.types import (
    BackendBusy,
    Completion,
    GenerationParams,
    Message,
    ModelNotFound,
    PromptTooLong,
    TextStream,
    Usage,
    collect,
)

logger = logging.getLogger(__name__)

ENGINE = "llama.cpp"
DEFAULT_MAX_CONTEXT = 8192  # KV memory grows with it; --context-window raises it
PREFILL_CHUNK = 256  # tokens evaluated between two looks at cancel
# llama.cpp's CPU attention without flash attention computes one token's logits differently
# from the same token's in a batch (up to ~1.2 in a logit on SmolLM2); with it, a token's
# logits are bit for bit the same whatever the batch, so speculative decoding (a batch per
# pass) samples what one-token decoding samples (at one thread; at two, near-ties may still
# differ). On whatever the speculation, so that "off" and a drafter compute the same logits.
FLASH_ATTENTION = True
# Guesses checked per pass: +2 after a pass that kept all its guesses, -1 after one that did not
# (Hugging Face's assisted-generation schedule), so text the prompt does not hold (or sampling
# that seldom agrees with the guesses) wastes at most one or two tokens of compute a pass.
DRAFT_LIMIT_START, DRAFT_LIMIT_MAX = 4, 16
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_DONE = object()


@dataclass
class _Job:
    tokens: list[int]
    params: GenerationParams
    max_new_tokens: int
    cancel: threading.Event | None
    cache_key: str | None
    shared_tokens: int = 0  # leading tokens any conversation may reuse (params.shared_prefix)
    events: "queue.Queue[Any]" = field(default_factory=queue.Queue)
    halt: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    new_ids: list[int] = field(default_factory=list)
    reused_tokens: int = 0
    drafted: int = 0  # tokens the drafter guessed
    accepted: int = 0  # of those, the ones the model sampled too
    passes: int = 0  # forward passes of the answer (the prefill's last one included)
    draft_limit: int = DRAFT_LIMIT_START  # guesses the next pass may check (see _decode)
    finish: str = "stop"
    error: BaseException | None = None

    def stopped(self) -> bool:
        return self.halt.is_set() or (self.cancel is not None and self.cancel.is_set())


class LlamaCppBackend:
    """``ChatBackend`` over a GGUF file run by llama.cpp in this process."""

    engine = ENGINE
    device = "cpu"

    def __init__(
        self,
        model_path: str | Path,
        *,
        name: str | None = None,
        context_window: int | None = None,
        threads: int | None = None,
        max_queue: int = 16,
        kv_cache_mb: int = DEFAULT_KV_CACHE_MB,
        lora_path: str | Path | None = None,
        speculation: str = "off",
        draft_model_path: str | Path | None = None,
        draft_tokens: int | None = None,
    ) -> None:
        """``speculation``: "off", "prompt-lookup" or "draft-model" (then ``draft_model_path``, a
        GGUF with the same tokenizer); ``draft_tokens`` overrides the tokens drafted per pass."""
        started = time.perf_counter()
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise ModelNotFound("llama-cpp-python is not installed; run `make run` to build it.") from exc
        path = Path(model_path)
        if not path.is_file():
            raise ModelNotFound(f"The GGUF file {str(path)!r} does not exist.")
        self.model_path = path
        self.threads = threads or default_threads()
        trained = trained_context(path)
        self.context_window = int(context_window or min(trained or DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT))
        try:
            self._llm = Llama(
                model_path=str(path), n_ctx=self.context_window, n_threads=self.threads,
                n_threads_batch=self.threads, n_batch=512, verbose=False, flash_attn=FLASH_ATTENTION,
                lora_path=str(lora_path) if lora_path else None,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelNotFound(f"llama.cpp could not load {path.name}: {exc}") from exc
        meta = self._llm.metadata
        self.name = name or meta.get("general.name") or path.stem
        if lora_path:
            self.name += f" + LoRA {Path(lora_path).name}"
        self._bos = self._llm.token_bos()
        self._template = chat_formatter(self._llm, meta.get("tokenizer.chat_template") or _CHATML)
        self._vocab = self._llm._model.vocab
        self.max_queue = max_queue
        self._pending = 0  # running + waiting
        self._lock = threading.Lock()
        self._jobs: "queue.Queue[_Job]" = queue.Queue()
        self._states = ContextStates(kv_cache_mb)  # which sequence the context holds; the others saved
        self.speculation = speculation
        self.drafter: Drafter | None = make_drafter(speculation, draft_model_path=draft_model_path,
                                                     threads=self.threads, context_window=self.context_window,
                                                     num_pred_tokens=draft_tokens)
        self.thread = threading.Thread(target=self._work, name="llamacpp", daemon=True)
        self.thread.start()
        self.load_seconds = time.perf_counter() - started
        logger.info("loaded %s with llama.cpp in %.1f s (context window %d tokens, %d threads, speculation %s)",
                    self.name, self.load_seconds, self.context_window, self.threads, speculation)

    # --- ChatBackend ----------------------------------------------------------------

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> TextStream:
        """Queue the request and return its text deltas (``BackendBusy``, ``PromptTooLong``)."""
        prompt = self.render(messages) + params.assistant_prefix
        tokens = self._encode(prompt)
        room = self.context_window - len(tokens)
        if room <= 0:
            raise PromptTooLong(f"The prompt has {len(tokens)} tokens; {self.name} takes at most {self.context_window}.")
        job = _Job(tokens=tokens, params=params, max_new_tokens=max(1, min(params.max_new_tokens, room)),
                   cancel=cancel, cache_key=params.cache_key,
                   shared_tokens=self._shared_tokens(messages, prompt, tokens, params.shared_prefix))
        with self._lock:
            if self._pending > self.max_queue:
                raise BackendBusy(f"{self._pending} requests are already waiting for the model; try again shortly.")
            self._pending += 1
        self._jobs.put(job)
        usage = Usage(prompt_tokens=len(tokens))
        text_stream = TextStream(self._deltas(job, params, usage), usage)
        weakref.finalize(text_stream, job.halt.set)  # dropped before it was read: stop anyway
        return text_stream

    def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens of ``messages`` rendered with the chat template, assistant header included."""
        return len(self.encode_chat(messages))

    def count_text_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def truncate_text(self, text: str, max_tokens: int) -> str:
        ids = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        if len(ids) <= max_tokens:
            return text
        return self._llm.detokenize(ids[: max(0, max_tokens)]).decode("utf-8", errors="ignore")

    # --- prompt ---------------------------------------------------------------------

    def render(self, messages: list[Message]) -> str:
        """The prompt text the model sees: its own chat template, assistant header included."""
        return self._template(messages=messages).prompt

    def encode_chat(self, messages: list[Message]) -> list[int]:
        return self._encode(self.render(messages))

    def _encode(self, prompt: str) -> list[int]:
        ids = self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if len(ids) > 1 and ids[0] == ids[1] == self._bos:  # the template wrote BOS itself
            ids = ids[1:]
        return ids

    def _shared_tokens(self, messages: list[Message], prompt: str, tokens: list[int], prefix: str) -> int:
        """How many leading ``tokens`` (of the rendered ``prompt``) render ``prefix`` at the start
        of the first message (0 when it is not there). The last one is left out: it may merge
        with what follows."""
        if not prefix or not messages or not str(messages[0].get("content", "")).startswith(prefix):
            return 0
        at = prompt.find(prefix)
        if at < 0:
            return 0
        return max(0, common_prefix(self._encode(prompt[: at + len(prefix)]), tokens) - 1)

    # --- the worker -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job.stopped():
                    job.finish = "cancelled"
                else:
                    self._generate(job)
            except BaseException as exc:  # reported to the reader, the worker goes on
                logger.exception("llama.cpp generation failed")
                job.error = exc
                self._llm.reset()
                self._states.forget()
            finally:
                with self._lock:
                    self._pending -= 1
                job.events.put(_DONE)
                job.done.set()

    def _prefill(self, job: _Job) -> bool:
        """Evaluate the prompt after the reused prefix, chunk by chunk; False when stopped."""
        llm, tokens = self._llm, job.tokens
        shared = min(job.shared_tokens, len(tokens) - 1)
        save_shared = self._states.switch_to(llm, job.cache_key, tokens[:shared])
        reuse = min(common_prefix(list(llm.input_ids[: llm.n_tokens]), tokens), len(tokens) - 1)
        if reuse <= 0 or not llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            reuse = 0
            llm.reset()
        llm.n_tokens = reuse
        job.reused_tokens = reuse
        # chunk ends, with one at the shared prefix's end when its state is still to be saved
        ends = sorted({*range(reuse + PREFILL_CHUNK, len(tokens), PREFILL_CHUNK), len(tokens),
                       *([shared] if save_shared and reuse < shared else [])})
        start = reuse
        for end in ends:
            if job.stopped():
                llm.n_tokens = start  # what is evaluated stays valid for the next turn
                return False
            llm.eval(tokens[start:end])
            if end == shared and save_shared:
                self._states.save_shared(llm, save_shared)
            start = end
        return True

    def _generate(self, job: _Job) -> None:
        from llama_cpp import llama_cpp as C

        if not self._prefill(job):
            job.finish = "cancelled"
            return
        llm = self._llm
        seed = job.params.seed
        llm.set_seed(C.LLAMA_DEFAULT_SEED if seed is None else int(seed) & 0xFFFFFFFF)
        job.finish = "length"
        for token in self._decode(job, llm._init_sampler(**sampling_kwargs(job.params))):
            if C.llama_vocab_is_eog(self._vocab, token):
                job.finish = "stop"
                break
            job.new_ids.append(token)
            job.events.put(token)
            if job.stopped():
                job.finish = "cancelled"
                break
            if len(job.new_ids) >= job.max_new_tokens:
                break
        # Left mid-way, the last token out may not be evaluated, and drafts after it may be in
        # the KV unchecked: keep the context's token list to what is really there.
        llm.n_tokens = min(llm.n_tokens, len(job.tokens) + max(0, len(job.new_ids) - 1))

    def _decode(self, job: _Job, sampler: Any) -> Iterator[int]:
        """The sampled tokens of the answer; the prompt's last logits are in the context.

        Each pass evaluates the last sampled token and the drafter's guesses after it, with
        logits for every one of them; the sampler then samples at each position in turn, and
        the first sample that differs from the guess there ends the pass (the rest of the
        batch leaves the KV cache). Without guesses, a pass is one token, as ``Llama.generate``."""
        llm = self._llm
        job.passes = 1
        token = sampler.sample(llm._ctx, -1)
        while True:
            yield token
            drafts = self._draft(job, token)
            self._evaluate([token, *drafts])
            job.passes += 1
            job.drafted += len(drafts)
            if drafts:
                job.draft_limit = min(DRAFT_LIMIT_MAX, job.draft_limit + 2)  # lowered below if one misses
            for row, guess in enumerate(drafts):
                token = sampler.sample(llm._ctx, row)
                if token != guess:
                    llm.n_tokens -= len(drafts) - row
                    llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
                    job.draft_limit = max(1, job.draft_limit - 3)
                    break
                job.accepted += 1
                yield token
            else:
                token = sampler.sample(llm._ctx, len(drafts))

    def _draft(self, job: _Job, token: int) -> list[int]:
        """The drafter's guesses after ``token``, no more than the answer and the window have room for."""
        llm = self._llm
        room = min(job.max_new_tokens - len(job.new_ids), self.context_window - llm.n_tokens - 1, llm.n_batch - 1,
                   job.draft_limit)
        if self.drafter is None or room <= 0:
            return []
        context = llm.input_ids[: llm.n_tokens + 1].copy()
        context[-1] = token
        return self.drafter.draft(context, room)[:room]

    def _evaluate(self, batch: list[int]) -> None:
        """``Llama.eval`` of one batch, with logits for every token when there is more than one
        (``Llama.eval`` keeps them only with ``logits_all``, and copies them all)."""
        llm = self._llm
        past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, past, -1)
        llm._batch.set_batch(batch=batch, n_past=past, logits_all=len(batch) > 1)
        llm._ctx.decode(llm._batch)
        llm.input_ids[past: past + len(batch)] = batch
        llm.n_tokens = past + len(batch)

    def _pieces(self, job: _Job) -> Iterator[str]:
        """Text of each generated token as it comes; half a UTF-8 character waits for the rest."""
        pending = b""
        while (item := job.events.get()) is not _DONE:
            pending += self._llm.detokenize([item])
            try:
                piece, pending = pending.decode("utf-8"), b""
            except UnicodeDecodeError:
                continue
            yield piece
        yield pending.decode("utf-8", errors="ignore")

    def _deltas(self, job: _Job, params: GenerationParams, usage: Usage) -> Iterator[str]:
        stops = StopStringFilter(params.stop)
        finished = False
        try:
            yield from show_until_stop(self._pieces(job), stops, job.halt)
            finished = True
        finally:
            if not finished:
                job.halt.set()
            if threading.current_thread() is not self.thread:
                job.done.wait()
                usage.completion_tokens = len(job.new_ids)
                usage.cached_prompt_tokens = job.reused_tokens
                usage.draft_tokens = job.drafted
                usage.accepted_draft_tokens = job.accepted
                usage.forward_passes = job.passes
                if finished and stops.stopped:
                    usage.finish_reason, usage.stopped_by = "stop", stops.hit
                elif not finished or job.finish == "cancelled" or (job.cancel is not None and job.cancel.is_set()):
                    usage.finish_reason = "cancelled"
                else:
                    usage.finish_reason = job.finish
        if job.error is not None:
            raise job.error
