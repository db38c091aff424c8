"""The documents panel: upload several PDFs with per-file progress, list, filter, remove.

Indexing runs in its own concurrency group, so one person's upload never holds up
another person's chat. All the work is ``services.documents``'s; this module only
reports its progress and outcome.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from ui import errors, formatting
from ui.i18n import t
from ui.language import request_language
from ui.layout import Layout

log = logging.getLogger(__name__)


def document_views(services: Any, user_id: str, selected: list[str] | None, lang: str = "en") -> tuple:
    """(#documents table, filter checkboxes, remove dropdown) for the user's library, in ``lang``."""
    documents = services.documents.list(user_id)
    choices = formatting.document_choices(documents)
    ids = {document_id for _, document_id in choices}
    kept = [document_id for document_id in selected or [] if document_id in ids]
    removable = formatting.removable_choices(documents, lang)
    return (
        formatting.documents_html(documents, lang),
        gr.update(choices=choices, value=kept, visible=bool(choices)),
        gr.update(choices=removable, value=None),
        gr.update(visible=bool(removable)),
    )


def make_handlers(services: Any) -> dict:
    documents = services.documents

    def refresh(user_id: str, selected: list[str] | None, request: gr.Request = None) -> tuple:
        return document_views(services, user_id, selected, request_language(request))

    def ingest(paths: list[str] | None, user_id: str, selected: list[str] | None,
               request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> tuple:
        lang = request_language(request)
        paths = [p for p in paths or [] if p]
        results = []
        for index, path in enumerate(paths, start=1):
            filename = Path(path).name

            def report(stage: str, done: int, total: int, _name: str = filename, _i: int = index) -> None:
                progress(
                    formatting.progress_fraction(_i, len(paths), done, total),
                    desc=formatting.progress_description(_name, _i, len(paths), stage, done, total, lang),
                )

            report("starting", 0, 0)
            try:
                results.append(documents.add_file(user_id, Path(path), filename, progress=report))
            except Exception as exc:  # noqa: BLE001 — a bad file fails alone
                errors.warn(exc, f"indexing {filename}", lang)
        infos, warnings = formatting.ingest_summary(results, lang)
        for line in infos:
            errors.info_toast(line, lang)
        for line in warnings:
            errors.warning_toast(line, lang)
        return (*document_views(services, user_id, selected, lang), None)

    def delete(user_id: str, document_id: str | None, selected: list[str] | None,
               request: gr.Request = None) -> tuple:
        lang = request_language(request)
        if not document_id:
            errors.warning_toast(t(lang, "pick_document"), lang)
            return document_views(services, user_id, selected, lang)
        try:
            if documents.delete(user_id, document_id):
                errors.info_toast(t(lang, "document_removed"), lang)
            else:
                errors.warning_toast(t(lang, "already_removed"), lang)
        except Exception as exc:  # noqa: BLE001
            errors.warn(exc, "removing a document", lang)
        return document_views(services, user_id, selected, lang)

    return {"refresh": refresh, "ingest": ingest, "delete": delete}


def wire(ui: Layout, services: Any) -> list:
    """Attach the document events; returns the steps to run after the page load."""
    h = make_handlers(services)
    views = [ui.documents, ui.selected_docs, ui.delete_doc_choice, ui.delete_doc_row]
    private = dict(api_visibility="private")
    ui.upload.upload(
        h["ingest"], [ui.upload, ui.user_id, ui.selected_docs], [*views, ui.upload],
        concurrency_id="ingest", concurrency_limit=1, show_progress_on=[ui.documents], **private,
    )
    ui.delete_doc.click(h["delete"], [ui.user_id, ui.delete_doc_choice, ui.selected_docs], views, **private)
    return [(h["refresh"], [ui.user_id, ui.selected_docs], views)]
