"""SQLite storage: users, conversations, messages and the documents registry."""
