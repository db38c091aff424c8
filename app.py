"""docchat entry point: settings → services → HTTP API + Gradio UI on one port → serve.

    python app.py [--port 7860] [--data-dir dbcache] [--model auto] ...

Every flag mirrors a field of ``settings.Settings`` (and the env var ``DOCCHAT_<NAME>``);
flags win over the environment, which wins over ``.env`` and the defaults. A bad value
ends the start with status 2 and one line naming the flag.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import threading
from typing import Any, Sequence

import settings as settings_module
from settings import Settings

log = logging.getLogger("docchat")


def build_parser() -> argparse.ArgumentParser:
    """One CLI flag per settings field (settings.add_flags)."""
    parser = argparse.ArgumentParser(prog="app.py", description="docchat: private multi-turn chat over your PDFs.")
    settings_module.add_flags(parser)
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    """The settings of this start; a bad value exits with status 2 and one line on stderr."""
    return settings_module.settings_from_args(build_parser(), argv)


def create_server_app(services: Any) -> Any:
    """The FastAPI app: API routes first, the Gradio UI mounted at "/"."""
    import gradio as gr

    from api.server import create_app
    from ui.auth import login_check
    from ui.blocks import build_ui, launch_options

    app = create_app(services)
    blocks = build_ui(services)
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=login_check(services.access),
        max_file_size=f"{services.settings.max_upload_mb}mb",
        show_error=False,
        mcp_server=services.settings.mcp,
        **launch_options(),
    )


def start_share_tunnel(host: str, port: int) -> None:
    """Ask Gradio's share server for a public link; on a closed network say so once."""

    def _run() -> None:
        try:
            from gradio import networking

            url = networking.setup_tunnel(host, port, secrets.token_urlsafe(32), None, None)
            log.info("public share link: %s", url)
        except Exception as exc:  # noqa: BLE001 — any failure means "no link", never a crash
            log.warning("could not create a share link (%s); serving locally only", exc.__class__.__name__)

    threading.Thread(target=_run, name="share-tunnel", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    settings, _ = settings_from_args(argv)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from services.access import Access, BadCredentials

    try:
        policy = Access.from_settings(settings).policy
    except BadCredentials as exc:
        log.error("%s", exc)
        return 2
    problem = policy.startup_problem()
    if problem:  # checked before any model loads: refusing must be quick and plain
        log.error("refusing to start: %s", problem)
        return 2
    log.info("access mode: %s", policy.mode)
    import uvicorn

    from services import build_services

    log.info("starting docchat; data dir %s", settings.data_dir.resolve())
    services = build_services(settings)
    app = create_server_app(services)
    if settings.share:
        start_share_tunnel(settings.host, settings.port)
    log.info("docchat ready at http://%s:%d", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", timeout_graceful_shutdown=3)
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
