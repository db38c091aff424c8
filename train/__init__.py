"""Fine-tuning of the local chat model (``python -m train``), apart from the app that serves it.

``data`` reads and checks the dialogues, ``lora`` encodes and trains, ``evaluate`` scores
dev replies, ``model_card`` writes the loss curve and card, ``cli`` is the command.
The adapters it writes are loaded by ``llm.adapters``.
"""
