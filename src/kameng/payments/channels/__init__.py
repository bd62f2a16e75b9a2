"""Payment channels: gateways configured in the database (issue 9)."""
