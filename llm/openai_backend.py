"""A chat model behind any OpenAI-compatible server (vLLM, llama.cpp server, Ollama).

Uses the official ``openai`` client. Extras that the OpenAI API lacks but vLLM and
llama.cpp take (``top_k``, ``repetition_penalty``) go in ``extra_body``. Opening a
request is retried on connection errors (tenacity); a stream that breaks midway is not
retried, since part of the answer was already shown. Setting ``cancel`` closes the
stream, which makes the server abort the request.

Token counts come from the server when it reports usage; otherwise from the model's
tokenizer when it is in the local Hugging Face cache, otherwise from the estimate in
``llm.tokens`` (CJK characters 1 token each, other text ~4 characters per token).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from errors import InternalError
from llm.stop_strings import StopStringFilter, trim_at_stop
from llm.tokens import TokenCounter, approx_message_tokens, approx_text_tokens, approx_truncate, load_local_tokenizer
from llm.types import BackendBusy, Completion, GenerationParams, Message, PromptTooLong, TextStream, Usage

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 4096
_WINDOW_IN_ERROR = re.compile(r"context (?:window|length)[^0-9]{0,20}(\d{3,7})", re.IGNORECASE)
CONNECT_ATTEMPTS = 3


class LLMServerError(InternalError, RuntimeError):
    """The OpenAI-compatible server cannot be reached or refused the request."""


def api_base(base_url: str) -> str:
    """``http://host:8000`` → ``http://host:8000/v1``; a URL with a path is kept as given."""
    url = base_url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


def request_params(params: GenerationParams) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create`` (seed 002 semantics).

    Greedy is temperature 0; top_k > 0 switches top_p off. An extra that is off is not
    sent at all: servers disagree on how to say "off" (vLLM takes top_k -1, llama.cpp's
    server refuses anything below 0), and a missing field means "off" to all of them.
    The repetition penalty goes under vLLM's name and llama.cpp's (``repeat_penalty``).
    """
    kwargs: dict[str, Any] = {"max_tokens": params.max_new_tokens}
    extra: dict[str, Any] = {}
    if params.greedy:
        kwargs.update(temperature=0.0, top_p=1.0)
    elif params.top_k > 0:
        kwargs.update(temperature=params.temperature, top_p=1.0)
        extra["top_k"] = params.top_k
    else:
        kwargs.update(temperature=params.temperature,
                      top_p=params.top_p if 0.0 < params.top_p < 1.0 else 1.0)
    if params.stop:
        kwargs["stop"] = list(params.stop)
    penalty = params.repetition_penalty or 1.0
    if penalty != 1.0:
        extra.update(repetition_penalty=penalty, repeat_penalty=penalty)
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


class OpenAIBackend:
    """``ChatBackend`` over an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    engine = "OpenAI-compatible server"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        context_window: int | None = None,
        tokenizer_source: str | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        from openai import OpenAI

        self.base_url = api_base(base_url)
        self.device = "remote"
        self.client = OpenAI(base_url=self.base_url, api_key=api_key or "EMPTY", max_retries=0, timeout=timeout_s)
        listed = self._list_models()
        entry = _pick(listed, model)
        if entry is None and model is None:
            raise LLMServerError(f"The server at {self.base_url} lists no models; pass --llm-model-name.")
        self.model = model or entry.id
        served_window = context_window or self._served_window(entry)
        if served_window is None:
            logger.warning("%s does not say its context length; assuming %d tokens until it refuses a "
                           "longer prompt (set --context-window to be sure)", self.base_url, DEFAULT_CONTEXT_WINDOW)
        self.context_window = int(served_window or DEFAULT_CONTEXT_WINDOW)
        self.name = f"{self.model} @ {self.base_url}"
        self._counter = _local_counter(tokenizer_source or self.model)
        logger.info("using %s (context window %d, token counts %s)", self.name, self.context_window,
                    "from the local tokenizer" if self._counter else "estimated")

    # --- ChatBackend ----------------------------------------------------------------

    def stream(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> TextStream:
        usage = Usage()
        if cancel is not None and cancel.is_set():
            usage.finish_reason = "cancelled"
            return TextStream(iter(()), usage)
        response = self._create(messages, params, stream=True, stream_options={"include_usage": True})
        return TextStream(self._deltas(response, messages, params, cancel, usage), usage)

    def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        response = self._create(messages, params, stream=False)
        choice = response.choices[0]
        text = trim_at_stop(choice.message.content or "", params.stop)
        usage = Usage(finish_reason=_finish(choice.finish_reason))
        self._fill_counts(usage, response.usage, messages, text)
        return Completion(text=text, usage=usage)

    def count_tokens(self, messages: list[Message]) -> int:
        if self._counter is not None:
            return self._counter.count_messages(messages)
        return approx_message_tokens(messages)

    def count_text_tokens(self, text: str) -> int:
        return self._counter.count_text(text) if self._counter is not None else approx_text_tokens(text)

    def truncate_text(self, text: str, max_tokens: int) -> str:
        if self._counter is not None:
            return self._counter.truncate(text, max_tokens)
        return approx_truncate(text, max_tokens)

    # --- internals ------------------------------------------------------------------

    def _deltas(
        self,
        response: Any,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None,
        usage: Usage,
    ) -> Iterator[str]:
        stops = StopStringFilter(params.stop)
        parts: list[str] = []
        server_usage = None
        finish = "stop"
        try:
            for chunk in response:
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                if chunk.usage is not None:
                    server_usage = chunk.usage
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = _finish(choice.finish_reason)
                    shown = stops.feed(choice.delta.content or "")
                    if shown:
                        parts.append(shown)
                        yield shown
                if stops.stopped:
                    finish = "stop"
                    break
            else:
                tail = stops.flush()
                if tail:
                    parts.append(tail)
                    yield tail
        finally:
            response.close()
            usage.finish_reason = finish
            self._fill_counts(usage, server_usage, messages, "".join(parts))

    def _fill_counts(self, usage: Usage, reported: Any, messages: list[Message], text: str) -> None:
        if reported is not None and reported.completion_tokens is not None:
            usage.prompt_tokens = reported.prompt_tokens or self.count_tokens(messages)
            usage.completion_tokens = reported.completion_tokens
        else:
            usage.prompt_tokens = self.count_tokens(messages)
            usage.completion_tokens = self.count_text_tokens(text)

    def _create(self, messages: list[Message], params: GenerationParams, **extra: Any) -> Any:
        import openai

        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        if params.assistant_prefix:
            # The answer so far, continued (the calculator's loop): llama.cpp's server continues
            # a last assistant message by itself, vLLM when asked to with these two fields.
            plain.append({"role": "assistant", "content": params.assistant_prefix})
            extra = {**extra, "extra_body": {"continue_final_message": True, "add_generation_prompt": False}}
        try:
            return self._retrying(
                lambda: self.client.chat.completions.create(
                    model=self.model, messages=plain, **request_params(params), **extra
                )
            )
        except openai.RateLimitError as exc:
            raise BackendBusy(f"{self.name} is busy: {exc.message}") from exc
        except openai.BadRequestError as exc:
            message = str(exc.message)
            if "context" in message.lower() or "too long" in message.lower():
                self._learn_window(message)
                raise PromptTooLong(message) from exc
            raise LLMServerError(f"{self.name} refused the request: {exc.message}") from exc
        except openai.APIConnectionError as exc:
            raise LLMServerError(f"Cannot reach {self.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMServerError(f"{self.name} answered HTTP {exc.status_code}: {exc.message}") from exc

    def _served_window(self, entry: Any) -> int | None:
        """The context length the server reports: vLLM's ``max_model_len`` on the model entry,
        else llama.cpp's ``/props`` (``default_generation_settings.n_ctx``); None if neither."""
        served = getattr(entry, "max_model_len", None) if entry is not None else None
        if served:
            return int(served)
        import httpx

        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        try:
            response = httpx.get(f"{root}/props", timeout=5, headers={"Authorization": f"Bearer {self.client.api_key}"})
            n_ctx = response.json().get("default_generation_settings", {}).get("n_ctx") if response.is_success else None
        except (httpx.HTTPError, ValueError, AttributeError):
            n_ctx = None
        return int(n_ctx) if n_ctx else None

    def _learn_window(self, message: str) -> None:
        """Servers that never said their window name it when they refuse a prompt
        (llama.cpp: "... exceed context window of 2048"); remember it for the next prompt."""
        match = _WINDOW_IN_ERROR.search(message)
        if match and int(match.group(1)) != self.context_window:
            logger.warning("%s has a context window of %s tokens (was assuming %d)", self.base_url,
                           match.group(1), self.context_window)
            self.context_window = int(match.group(1))

    def _list_models(self) -> list[Any]:
        import openai

        try:
            return list(self._retrying(lambda: list(self.client.models.list())))
        except openai.APIConnectionError as exc:
            raise LLMServerError(f"Cannot reach the OpenAI-compatible server at {self.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            logger.warning("%s/models answered HTTP %s; no model list", self.base_url, exc.status_code)
            return []

    @staticmethod
    def _retrying(call: Any) -> Any:
        """Run ``call``, retrying what may pass with exponential back-off.

        Connection errors and 5xx answers (a server restarting, a worker that crashed)
        are retried; 4xx answers are the request's fault and are not.
        """
        import openai
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        for attempt in Retrying(
            retry=retry_if_exception_type((openai.APIConnectionError, openai.InternalServerError)),
            stop=stop_after_attempt(CONNECT_ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=4),
            reraise=True,
        ):
            with attempt:
                return call()
        return None  # unreachable: Retrying either returns or re-raises


def _pick(listed: list[Any], wanted: str | None) -> Any | None:
    if wanted is None:
        return listed[0] if listed else None
    return next((m for m in listed if m.id == wanted), None)


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


def _local_counter(source: str) -> TokenCounter | None:
    """A counter with the model's tokenizer when it loads offline (HF cache, dir or .gguf)."""
    path = Path(source).expanduser()
    if source.endswith(".gguf") and path.is_file():
        tokenizer = load_local_tokenizer(str(path.parent), gguf_file=path.name)
    else:
        tokenizer = load_local_tokenizer(source)
    return TokenCounter(tokenizer) if tokenizer is not None else None
