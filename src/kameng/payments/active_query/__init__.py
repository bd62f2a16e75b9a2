"""主动查单: unpaid orders carry a next query time; the worker asks the gateway."""
