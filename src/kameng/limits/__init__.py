"""Rate limits kept in PostgreSQL, shared by every web process."""
