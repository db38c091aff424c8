"""The source viewer: click a source (or an answer, or its [n] mark) and see the cited page.

``#sources`` lists the selected answer's sources as buttons that start with their mark;
``#source-viewer`` shows the page image with the passage highlighted, the file name and
page, previous/next page, and a link that opens the PDF at that page. Both are
``gr.HTML`` whose ``js_on_load`` turns clicks into one Gradio event carrying the
clicked item's data attributes; the handler checks the document is still visible to
this user (else "document removed") and answers with signed page/PDF links
(``services.documents.page_links``), which a browser can load without headers.

Every user-visible string is in ui/i18n.py (keys ``viewer_*``, ``source_*``, ``answer_*``).
"""

from __future__ import annotations

import html
import logging
from typing import Any, Iterable, Mapping

import gradio as gr

from errors import DocchatError
from services.calculation_notes import number_text
from ui.formatting import field, snippet, source_place
from ui.i18n import t
from ui.language import request_language

logger = logging.getLogger(__name__)

VIEWER_WIDTH = 1000  # px of the page image; the panel scales it down, a click opens it full size

def _attrs(data: Mapping[str, Any]) -> str:
    return " ".join(f'data-{key}="{html.escape(str(value), quote=True)}"' for key, value in data.items())


def turn_notes_html(focus: Any | None = None, replaced: bool = False, lang: str = "en",
                    unaccounted: Iterable[str] = (), computed: bool = False) -> str:
    """Lines above the sources: the files the question named (rag.types.SearchFocus),
    whether the model's answer was replaced because its passages do not hold it or because
    it stated none of docchat's calculations (``computed``), and the figures it states that
    no passage prints (rag/figures.py)."""
    lines = []
    if replaced:
        lines.append(t(lang, "answer_replaced"))
    if computed:
        lines.append(t(lang, "answer_computed"))
    if figures := list(unaccounted):
        lines.append("⚠ " + t(lang, "answer_unaccounted", figures=", ".join(figures)))
    if focus is not None and focus.filenames:
        lines.append(t(lang, "focus_only" if focus.only else "focus_first", files=", ".join(focus.filenames)))
    return "".join(f"<p class='sources-note'>{html.escape(line)}</p>" for line in lines)


def calculations_html(calculations: Iterable[Mapping[str, Any]] | None, sources: list[Any], lang: str = "en") -> str:
    """The answer's calculations, one line each: the expression, its result, whether every
    operand is printed in a passage, and each operand as a button that opens its passage's
    page (the same click as a source's)."""
    items = list(calculations or [])
    if not items:
        return ""
    lines = []
    for calc in items:
        operands = []
        for operand in calc.get("operands", []):
            value = html.escape(str(operand.get("text") or number_text(operand.get("value"))))
            n = operand.get("source")
            if isinstance(n, int) and 1 <= n <= len(sources):
                source = sources[n - 1]
                page = field(source, "page", "?")
                data = {"kind": "source", "n": n, "document": field(source, "document_id", ""), "page": page,
                        "chunk": field(source, "chunk_id", "") or "", "filename": field(source, "filename", "")}
                operands.append(f"<button class='calc-operand source-item' type='button' {_attrs(data)}>"
                                f"{value} <b>[{n}]</b> {html.escape(t(lang, 'page', page=page))}</button>")
            else:
                operands.append(f"<span class='calc-operand missing' title='{html.escape(t(lang, 'calc_flagged'))}'>"
                                f"⚠ {value}</span>")
        result = calc.get("result")
        if calc.get("ok"):
            badge, verdict = "cited", t(lang, "calc_checked")
        else:  # an operand printed nowhere, or it could not be evaluated: the flag says which
            badge, verdict = "flagged", f"{t(lang, 'calc_flagged')}: {calc.get('flag') or ''}"
        shown = "?" if result is None else number_text(result)
        lines.append(
            f"<div class='calculation'><code>{html.escape(str(calc.get('expression', '')).strip())} = "
            f"{html.escape(shown)}</code> <span class='badge {badge}'>{html.escape(verdict)}</span>"
            f"<div class='calc-operands'>{' '.join(operands)}</div></div>"
        )
    return f"<div class='calculations'><p class='sources-heading'>{html.escape(t(lang, 'calc_heading'))}</p>" \
           + "".join(lines) + "</div>"


def sources_html(sources: Iterable[Any] | None, heading: str = "", lang: str = "en", notes: str = "",
                 calculations: Iterable[Mapping[str, Any]] | None = None) -> str:
    """#sources: the answer's calculations (``calculations_html``), then one button per
    source, "[n] file · p. N", its snippet and citation flags; first the turn's ``notes``
    (``turn_notes_html``)."""
    items = list(sources or [])
    if not items:
        empty = t(lang, "answer_no_sources") if heading else t(lang, "empty_sources").strip("_")
        return notes + f"<p class='sources-empty'>{html.escape(empty)}</p>"
    blocks = [f"<p class='sources-heading'>{html.escape(heading)}</p>"] if heading else []
    blocks.append(notes)
    blocks.append(calculations_html(calculations, items, lang))
    for n, source in enumerate(items, start=1):
        filename = str(field(source, "filename", "?"))
        page = field(source, "page", "?")
        data = {"kind": "source", "n": n, "document": field(source, "document_id", ""), "page": page,
                "chunk": field(source, "chunk_id", "") or "", "filename": filename}
        cited = field(source, "cited", None)
        flags = ""
        if cited is not None:
            flags = f" <span class='badge {'cited' if cited else 'uncited'}'>" \
                    f"{t(lang, 'source_cited') if cited else t(lang, 'source_not_cited')}</span>"
        unsupported = [c for c in field(source, "claims", None) or [] if c.get("supported") is False]
        warnings = "".join(
            f"<div class='claim-unsupported'>⚠ {html.escape(t(lang, 'source_not_found'))}: "
            f"“{html.escape(snippet(str(c.get('sentence', '')), 160))}”</div>" for c in unsupported
        )
        blocks.append(
            f"<div class='source'><button class='source-item' type='button' {_attrs(data)}>"
            f"<b>[{n}]</b> {html.escape(filename)} · {html.escape(source_place(source, lang))}</button>{flags}"
            f"<blockquote>{html.escape(snippet(str(field(source, 'text', ''))))}</blockquote>{warnings}</div>"
        )
    return "".join(blocks)


def viewer_hint_html(lang: str = "en") -> str:
    return f"<p class='viewer-hint'>{html.escape(t(lang, 'viewer_hint'))}</p>"


def removed_html(filename: str, lang: str = "en") -> str:
    return f"<p class='viewer-removed'>{html.escape(t(lang, 'viewer_document_removed', filename=filename))}</p>"


def viewer_html(document_id: str, filename: str, page: int, pages: int, chunk_id: str, chunk_page: int,
                image_url: str, pdf_url: str, lang: str = "en") -> str:
    """#source-viewer: header, previous/next, the PDF link and the (highlighted) page image."""
    name = html.escape(filename)

    def step(target: int, label: str) -> str:
        if not 1 <= target <= pages:
            return f"<button class='viewer-step' type='button' disabled>{html.escape(label)}</button>"
        data = {"kind": "page", "document": document_id, "page": target, "chunk": chunk_id,
                "chunkpage": chunk_page, "filename": filename}
        return f"<button class='viewer-step' type='button' {_attrs(data)}>{html.escape(label)}</button>"

    alt = html.escape(t(lang, "viewer_image_alt", page=page, filename=filename))
    return (
        f"<div class='viewer' data-document='{html.escape(document_id)}' data-page='{page}'>"
        f"<div class='viewer-head'><span class='viewer-file'>{name}</span> · "
        f"<span class='viewer-page'>{html.escape(t(lang, 'viewer_page_of', page=page, pages=pages))}</span></div>"
        f"<div class='viewer-nav'>{step(page - 1, t(lang, 'viewer_previous'))}{step(page + 1, t(lang, 'viewer_next'))}"
        f"<a class='viewer-pdf' href='{html.escape(pdf_url)}' target='_blank' rel='noopener'>"
        f"{html.escape(t(lang, 'viewer_open_pdf', page=page))}</a></div>"
        f"<a href='{html.escape(image_url)}' target='_blank' rel='noopener'>"
        f"<img class='viewer-image' src='{html.escape(image_url)}' alt='{alt}'></a></div>"
    )


# Clicks on a source button, a viewer step, or an answer in #chatbot (with the [n] mark
# under the pointer, if any) become one "click" event of #sources carrying their data.
SOURCES_JS = """
element.addEventListener('click', (event) => {
  const item = event.target.closest('.source-item');
  if (item) trigger('click', {...item.dataset});
});
if (!window.__docchatAnswerClicks) {
  window.__docchatAnswerClicks = true;
  document.addEventListener('click', (event) => {
    const bubble = event.target.closest('#chatbot [data-testid=bot]');
    if (!bubble || event.target.closest('button')) return;
    const bubbles = Array.from(document.querySelectorAll('#chatbot [data-testid=bot]'));
    let mark = '';
    const range = document.caretRangeFromPoint ? document.caretRangeFromPoint(event.clientX, event.clientY) : null;
    if (range && range.startContainer.nodeType === Node.TEXT_NODE) {
      const text = range.startContainer.textContent, at = range.startOffset;
      const re = /\\[(\\d{1,3})(?:\\s*[,，、]\\s*\\d{1,3})*\\]/g;
      let m;
      while ((m = re.exec(text)) !== null) {
        if (m.index <= at && at <= m.index + m[0].length) { mark = m[1]; break; }
      }
    }
    const target = document.querySelector('#sources');
    target.dispatchEvent(new CustomEvent('docchat-answer', {detail: {answer: bubbles.indexOf(bubble), mark}}));
  });
}
const host = element.closest('#sources');
if (host) {
  host.__docchatTrigger = trigger;  // the newest mount's trigger; the listener is added once
  if (!host.__docchatBound) {
    host.__docchatBound = true;
    host.addEventListener('docchat-answer', (event) => {
      host.__docchatTrigger('click', {kind: 'answer', answer: String(event.detail.answer), mark: event.detail.mark});
    });
  }
}
"""
VIEWER_JS = """
element.addEventListener('click', (event) => {
  const step = event.target.closest('.viewer-step');
  if (step && !step.disabled) trigger('click', {...step.dataset});
});
"""

CSS = """
#sources .source { margin-bottom: 10px; }
#sources .source-item { background: none; border: none; padding: 0; cursor: pointer; text-align: left;
                        color: var(--link-text-color); font-size: 0.85rem; }
#sources .source-item:hover { text-decoration: underline; }
#sources .badge { font-size: 0.7rem; border-radius: 6px; padding: 0 5px; margin-left: 4px; }
#sources .badge.cited { background: #dcfce7; color: #166534; }
#sources .badge.uncited { background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
#sources .claim-unsupported { color: #b91c1c; font-size: 0.78rem; }
#sources .badge.flagged { background: #fee2e2; color: #991b1b; }
#sources .calculation { margin: 4px 0 8px; font-size: 0.85rem; }
#sources .calc-operands { margin-top: 2px; }
#sources .calc-operand { font-size: 0.78rem; margin-right: 6px; }
#sources .calc-operand.missing { color: #b91c1c; }
#sources .sources-heading { font-weight: 600; margin: 0 0 6px 0; font-size: 0.85rem; }
#sources .sources-note { margin: 0 0 6px 0; font-size: 0.85rem; opacity: 0.8; }
#source-viewer .viewer-head { font-size: 0.85rem; font-weight: 600; margin-bottom: 4px; }
#source-viewer .viewer-nav { display: flex; gap: 6px; flex-wrap: wrap; align-items: center; margin-bottom: 6px;
                             font-size: 0.8rem; }
#source-viewer .viewer-step { border: 1px solid var(--border-color-primary); border-radius: 6px;
                              padding: 1px 6px; background: var(--background-fill-secondary); cursor: pointer; }
#source-viewer .viewer-step:disabled { opacity: 0.4; cursor: default; }
#source-viewer .viewer-image { width: 100%; border: 1px solid var(--border-color-primary); }
#source-viewer .viewer-hint, #source-viewer .viewer-removed { font-size: 0.85rem;
                                                              color: var(--body-text-color-subdued); }
"""


# --- events ------------------------------------------------------------------------
def open_page(services: Any, user_id: str, document_id: str, page: int, chunk_id: str = "",
              chunk_page: int | None = None, filename: str = "", lang: str = "en") -> str:
    """#source-viewer for ``page`` of the document, highlighting ``chunk_id`` on its page."""
    documents = services.documents
    scope = services.access.scope(user_id)
    try:
        doc = documents.ready(scope, document_id)
        pages = documents.page_count(scope, document_id)
    except DocchatError as exc:  # removed, or its stored file vanished: the same for the reader
        logger.info("cannot open %s: %s", document_id[:12], exc)
        return removed_html(filename or document_id[:12], lang)
    page = max(1, min(int(page), pages))
    chunk_page = int(chunk_page or page)
    highlight = chunk_id if chunk_id and chunk_page == page else None
    image, pdf = documents.page_links(scope, document_id, page, highlight, VIEWER_WIDTH)
    return viewer_html(document_id, doc.filename, page, pages, chunk_id, chunk_page, image, pdf, lang)


def stored_answer(services: Any, user_id: str, conversation_id: str | None, answer: int) -> Any | None:
    """The ``answer``-th assistant message (0-based) of the conversation, as stored; None when gone."""
    if not conversation_id or not user_id:
        return None
    try:
        return services.conversations.answer(user_id, conversation_id, answer)
    except LookupError:
        return None


def make_click_handler(services: Any):
    def on_click(user_id: str, conversation_id: str | None, evt: gr.EventData, request: gr.Request) -> tuple:
        data = getattr(evt, "_data", None) or {}
        lang = request_language(request)
        kind = data.get("kind")
        try:
            if kind in ("source", "page"):
                viewer = open_page(services, user_id, str(data.get("document", "")), int(data.get("page", 1)),
                                   str(data.get("chunk", "")),
                                   int(data.get("chunkpage") or data.get("page", 1)), str(data.get("filename", "")),
                                   lang)
                return gr.skip(), viewer
            if kind == "answer":
                index = int(data.get("answer", -1))
                message = stored_answer(services, user_id, conversation_id, index)
                sources = list(message.sources or []) if message else []
                listing = sources_html(sources, t(lang, "answer_sources", n=index + 1), lang,
                                       calculations=message.calculations if message else [])
                mark = int(data.get("mark") or 0)
                chosen = sources[mark - 1] if 1 <= mark <= len(sources) else (sources[0] if sources else None)
                if chosen is None:
                    return listing, viewer_hint_html(lang)
                viewer = open_page(services, user_id, str(field(chosen, "document_id", "")),
                                   int(field(chosen, "page", 1)), str(field(chosen, "chunk_id", "") or ""),
                                   None, str(field(chosen, "filename", "")), lang)
                return listing, viewer
        except (TypeError, ValueError) as exc:  # tampered event data: ignore the click
            logger.info("ignored a source click with bad data %r: %s", data, exc)
        return gr.skip(), gr.skip()

    return on_click


def wire(ui: Any, blocks: gr.Blocks, services: Any) -> None:
    """Clicks on #sources items, viewer steps and answers open pages in #source-viewer."""
    on_click = make_click_handler(services)
    options = dict(queue=False, api_visibility="private", show_progress="hidden")

    def hint(request: gr.Request) -> str:  # the hint in the tab's language
        return viewer_hint_html(request_language(request))

    blocks.load(hint, None, [ui.source_viewer], **options)
    ui.sources.click(on_click, [ui.user_id, ui.conversation_id], [ui.sources, ui.source_viewer], **options)
    ui.source_viewer.click(on_click, [ui.user_id, ui.conversation_id], [ui.sources, ui.source_viewer], **options)
