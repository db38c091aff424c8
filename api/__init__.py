"""HTTP skins over the services: OpenAI-compatible, seed 002 SSE, seed 003 chat, documents."""
