"""The Gradio Blocks UI: a thin skin over the same services as the HTTP API."""
