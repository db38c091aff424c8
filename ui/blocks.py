"""``build_ui(services)``: the docchat Gradio app, a thin skin over the services.

app.py mounts it on the FastAPI app that also serves the HTTP API:
``gr.mount_gradio_app(app, build_ui(services), path="/", auth=auth_callable(settings),
**launch_options())`` — in Gradio 6 the theme and CSS are mount/launch options, not
Blocks arguments, hence ``launch_options``.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from ui import chat_events, conversation_events, document_events, formatting, language, source_viewer
from ui.i18n import I18N
from ui.layout import build_layout

log = logging.getLogger(__name__)

CSS = """
.gradio-container { max-width: 1600px !important; margin: 0 auto !important; }
#header { align-items: center; border-bottom: 1px solid var(--border-color-primary);
          padding: 0 4px 6px 4px; margin-bottom: 2px; }
#header .brand h1 { margin: 0; font-size: 1.5rem; letter-spacing: -0.02em; color: var(--color-accent); }
#header .brand p { margin: 0; color: var(--body-text-color-subdued); font-size: 0.9rem; }
#model-info { text-align: right; font-size: 0.8rem; color: var(--body-text-color-subdued); }
.panel { padding: 10px 12px !important; border-radius: 12px !important; }
.panel-title h4 { margin: 0 0 6px 0 !important; font-size: 0.95rem; }
.side-panel { gap: 12px; }
.conv-list { max-height: 30vh; overflow-y: auto; }
.conv-list .wrap { flex-direction: column; gap: 4px; }
.conv-list label { width: 100%; justify-content: flex-start; }
.conv-list label span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#documents { padding: 2px 0 !important; min-height: 64px; }
#documents .doc-list { list-style: none; margin: 0; padding: 0; max-height: 30vh; overflow-y: auto; }
#documents .doc { padding: 6px 2px; border-bottom: 1px solid var(--border-color-primary); }
#documents .doc:last-child { border-bottom: none; }
#documents .doc-name { font-weight: 600; font-size: 0.85rem; overflow: hidden; text-overflow: ellipsis;
                       white-space: nowrap; }
#documents .doc-meta { font-size: 0.78rem; color: var(--body-text-color-subdued); }
#documents .status::before { content: "●"; margin-right: 3px; }
#documents .status-ready::before { color: #16a34a; }
#documents .status-indexing::before { color: #d97706; }
#documents .status-failed, #documents .doc-error { color: #b91c1c; }
#documents .doc-error { font-size: 0.75rem; }
#documents .empty-state { color: var(--body-text-color-subdued); font-size: 0.85rem; margin: 4px 0; }
/* "New chat" is the way to start over (the label is Gradio's, in either language) */
#chatbot button[aria-label="Clear"], #chatbot button[aria-label="清空对话"] { display: none; }
#chat-input textarea { font-size: 1rem; }
#chat-actions { gap: 8px; justify-content: flex-start; }
#sources { font-size: 0.85rem; max-height: 48vh; overflow-y: auto; }
#sources blockquote { margin: 2px 0 10px 0; padding-left: 8px; color: var(--body-text-color-subdued); }
"""


def theme() -> gr.themes.Theme:
    """A calm, readable theme: Soft with a slate/indigo palette and system fonts (offline)."""
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def launch_options() -> dict[str, Any]:
    """Keyword arguments for gr.mount_gradio_app that style and translate the UI.

    ``i18n`` gives the browser every static text in both languages; the middleware puts
    the language decision first on the page (ui/language.py says why).
    """
    from starlette.middleware import Middleware

    return {
        "theme": theme(), "css": CSS + source_viewer.CSS, "footer_links": ["api", "settings"], "i18n": I18N,
        "app_kwargs": {"middleware": [Middleware(language.BootScript)]},
    }


def model_info(services: Any, lang: str = "en") -> str:
    """#model-info text from the services actually in use, in ``lang``."""
    info = services.model_info()
    return formatting.model_info_markdown(
        info["chat_model"], info["embedding_model"], info["device"], lang, engine=info["engine"])


def wire_language(ui: Any, blocks: gr.Blocks, services: Any) -> None:
    """The language switch, and the header's model line in the tab's language."""

    def header(request: gr.Request) -> str:
        return model_info(services, language.request_language(request))

    private = dict(api_visibility="private", show_progress="hidden", queue=False)
    blocks.load(None, None, [ui.language], js=language.CURRENT_CHOICE_JS, **private)
    blocks.load(header, None, [ui.model_info], **private)
    ui.language.input(None, [ui.language], [ui.language], js=language.SWITCH_JS, **private)


def build_ui(services: Any) -> gr.Blocks:
    """The whole docchat screen, its events wired to ``services``; nothing runs yet."""
    with gr.Blocks(title="docchat", fill_width=True, analytics_enabled=False) as blocks:
        ui = build_layout(services.settings, model_info(services))
        after_load = document_events.wire(ui, services)
        conversation_events.wire(ui, blocks, services, after_load)
        chat_events.wire(ui, services)
        source_viewer.wire(ui, blocks, services)
        wire_language(ui, blocks, services)
        if services.settings.mcp:
            from api.mcp_tools import register_mcp_tools

            register_mcp_tools(services)
    if services.settings.mcp:
        from api.mcp_tools import hide_ui_endpoints

        hide_ui_endpoints(blocks)
    # Chat and indexing have their own concurrency groups; everything else is light.
    blocks.queue(default_concurrency_limit=8, max_size=max(64, services.settings.max_queue * 4))
    return blocks
