"""Chat model backends, chat templates, token counting and the history window."""
