"""Database access: engine and session factory, embedded server, migrations."""
