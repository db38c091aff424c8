"""The components of the docchat screen and where they sit (no behaviour here).

Element ids are a contract with the browser tests (DESIGN.md §6). Behaviour lives in
chat_events.py, document_events.py and conversation_events.py, which receive the
``Layout`` built here.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from settings import DEFAULT_SYSTEM_PROMPT, Settings
from ui import language as ui_language, session
from ui.i18n import L


@dataclass
class Layout:
    """Every component an event needs, by role."""

    # per-tab state
    browser_id: gr.BrowserState
    user_id: gr.State
    conversation_id: gr.State
    cancel: gr.State
    turn_lock: gr.State
    # left column
    conversations: gr.Radio
    new_chat: gr.Button
    title: gr.Textbox
    rename: gr.Button
    delete_chat: gr.Button
    export_md: gr.Button
    export_json: gr.Button
    export_file: gr.File
    upload: gr.File
    documents: gr.HTML
    selected_docs: gr.CheckboxGroup
    delete_doc_choice: gr.Dropdown
    delete_doc: gr.Button
    delete_doc_row: gr.Row
    # main column
    model_info: gr.Markdown
    chatbot: gr.Chatbot
    chat_input: gr.Textbox
    send: gr.Button
    stop: gr.Button
    regenerate: gr.Button
    sources: gr.Markdown
    # settings accordion
    use_rag: gr.Checkbox
    temperature: gr.Slider
    top_p: gr.Slider
    top_k: gr.Slider
    max_new_tokens: gr.Slider
    retrieval_k: gr.Slider
    history_budget: gr.Slider
    system_prompt: gr.Textbox
    language: gr.Radio

    @property
    def generation_controls(self) -> list[gr.components.Component]:
        """Inputs of every turn, in the order ``chat_events.turn_request`` expects them."""
        return [
            self.use_rag, self.selected_docs, self.temperature, self.top_p, self.top_k,
            self.max_new_tokens, self.retrieval_k, self.history_budget, self.system_prompt,
        ]


# Each column builder returns its local variables: the components, by the names that
# ``Layout`` uses (build_layout picks those out), so a component is named exactly once.


def _left_column() -> dict:
    """Conversations (list, new, rename/delete/export) and documents (upload, list, filter)."""
    with gr.Column(scale=1, min_width=300, elem_classes="side-panel"):
        with gr.Group(elem_classes="panel"):
            gr.Markdown(L("conversations_title"), elem_classes="panel-title")
            new_chat = gr.Button(L("new_chat"), elem_id="new-chat", variant="primary", size="sm")
            conversations = gr.Radio(
                choices=[], label=L("conversations"), show_label=False, elem_id="conversations",
                elem_classes="conv-list", container=False,
            )
            with gr.Accordion(L("conversation_tools"), open=False, elem_id="conversation-tools"):
                title = gr.Textbox(
                    label=L("title_label"), placeholder=L("title_placeholder"), max_lines=1, elem_id="conv-title",
                )
                with gr.Row():
                    rename = gr.Button(L("rename"), size="sm", elem_id="rename-chat", min_width=60)
                    delete_chat = gr.Button(
                        L("delete"), size="sm", variant="stop", elem_id="delete-chat", min_width=60,
                    )
                with gr.Row():
                    export_md = gr.Button(L("export_md"), size="sm", elem_id="export-md", min_width=60)
                    export_json = gr.Button(L("export_json"), size="sm", elem_id="export-json", min_width=60)
                export_file = gr.File(label=L("export_file"), visible=False, interactive=False, elem_id="export-file")
        with gr.Group(elem_classes="panel"):
            gr.Markdown(L("documents_title"), elem_classes="panel-title")
            upload = gr.File(
                label=L("upload"), file_count="multiple", file_types=[".pdf"], type="filepath",
                elem_id="upload", height=110,
            )
            documents = gr.HTML(
                "<p class='empty-state'>" + L("empty_documents") + "</p>", elem_id="documents", padding=True,
            )
            selected_docs = gr.CheckboxGroup(
                choices=[], label=L("doc_filter"), info=L("doc_filter_info"),
                elem_id="doc-filter", visible=False,
            )
            with gr.Row(equal_height=True, visible=False) as delete_doc_row:
                delete_doc_choice = gr.Dropdown(
                    choices=[], value=None, label=L("doc_to_delete"), scale=1, elem_id="doc-to-delete",
                )
                delete_doc = gr.Button(
                    L("delete_doc"), variant="stop", size="sm", scale=0, min_width=80, elem_id="delete-doc",
                )
    return locals()


def _main_column() -> dict:
    """The chat: messages, the input with Send, then Stop and Regenerate."""
    with gr.Column(scale=3, min_width=440, elem_classes="main-panel"):
        chatbot = gr.Chatbot(
            elem_id="chatbot", show_label=False, height="calc(100vh - 250px)", min_height=380,
            placeholder=L("empty_chat"), feedback_options=None, buttons=["copy"],
            group_consecutive_messages=False,
        )
        with gr.Row(elem_id="input-row", equal_height=True):
            # lines=1 (growing to 8): Gradio sends on Enter and keeps Shift+Enter as a new line.
            chat_input = gr.Textbox(
                elem_id="chat-input", label=L("chat_input"), show_label=False, container=False,
                lines=1, max_lines=8, scale=8,
                placeholder=L("chat_placeholder"), autofocus=True,
                interactive=False,  # enabled by the page load, once we know who is asking
            )
            send = gr.Button(L("send"), variant="primary", elem_id="send", scale=1, min_width=90)
        with gr.Row(elem_id="chat-actions"):
            stop = gr.Button(L("stop"), variant="stop", elem_id="stop", size="sm", min_width=90, scale=0)
            regenerate = gr.Button(L("regenerate"), elem_id="regenerate", size="sm", min_width=120, scale=0)
    return locals()


def _right_column(settings: Settings) -> dict:
    """Sources of the latest answer, and the per-tab generation settings."""
    with gr.Column(scale=1, min_width=300, elem_classes="side-panel"):
        with gr.Group(elem_classes="panel sources-panel"):
            gr.Markdown(L("sources_title"), elem_classes="panel-title")
            sources = gr.Markdown(L("empty_sources"), elem_id="sources")
        with gr.Accordion(L("settings"), open=False, elem_id="settings"):
            language = gr.Radio(
                ui_language.choices(), value=ui_language.AUTO, label=L("language"), elem_id="language",
            )
            use_rag = gr.Checkbox(True, label=L("use_rag"), elem_id="use-rag")
            temperature = gr.Slider(
                0.0, 2.0, value=settings.temperature, step=0.05, label=L("temperature"), info=L("temperature_info"),
                elem_id="temperature",
            )
            top_p = gr.Slider(
                0.0, 1.0, value=settings.top_p, step=0.01, label=L("top_p"), elem_id="top-p",
            )
            top_k = gr.Slider(0, 100, value=settings.top_k, step=1, label=L("top_k"), elem_id="top-k")
            max_new_tokens = gr.Slider(
                16, 4096, value=settings.max_new_tokens, step=16, label=L("max_new_tokens"), elem_id="max-new-tokens",
            )
            retrieval_k = gr.Slider(
                1, 20, value=min(settings.retrieval_k, 20), step=1, label=L("retrieval_k"),
                elem_id="retrieval-k",
            )
            history_budget = gr.Slider(
                0, 8192, value=settings.history_token_budget, step=64, label=L("history_budget"),
                elem_id="history-budget",
            )
            system_prompt = gr.Textbox(
                # Empty means the server's prompt, which speaks the question's language
                # whatever the UI's; only an operator's own prompt is shown as text.
                "" if settings.system_prompt == DEFAULT_SYSTEM_PROMPT else settings.system_prompt,
                label=L("system_prompt"), placeholder=L("system_prompt_placeholder"), lines=3, max_lines=10,
                elem_id="system-prompt",
            )
    return locals()


def build_layout(settings: Settings, model_info: str) -> Layout:
    """Create every component inside the current ``gr.Blocks`` context."""
    browser_id = gr.BrowserState(
        "", storage_key="docchat-user", secret=session.browser_state_secret(settings.data_dir.resolve())
    )
    user_id = gr.State("")
    conversation_id = gr.State(None)
    cancel = gr.State(session.new_cancel_event)
    turn_lock = gr.State(session.new_turn_lock)
    with gr.Row(elem_id="header", equal_height=True):
        gr.Markdown(L("brand"), elem_classes="brand")
        model_info_md = gr.Markdown(model_info, elem_id="model-info", elem_classes="model-info")
    with gr.Row(elem_id="workspace"):
        parts = {**_left_column(), **_main_column(), **_right_column(settings)}
    names = Layout.__dataclass_fields__.keys()
    return Layout(
        browser_id=browser_id, user_id=user_id, conversation_id=conversation_id, cancel=cancel,
        turn_lock=turn_lock, model_info=model_info_md,
        **{name: part for name, part in parts.items() if name in names},
    )
