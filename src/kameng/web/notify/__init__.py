"""Gateway notify endpoints (server-to-server)."""
