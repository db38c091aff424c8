"""make_backend picks the backend from the settings."""

from llm.factory import make_backend
from llm.openai_backend import OpenAIBackend
from settings import Settings


def test_base_url_selects_the_openai_compatible_server(openai_server, bundled_backend):
    url, _ = openai_server
    backend = make_backend(Settings(llm_base_url=url, context_window=1024))

    assert isinstance(backend, OpenAIBackend)
    assert backend.model == bundled_backend.name
    assert backend.context_window == 1024
