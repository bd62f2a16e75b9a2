"""Helpers of ``scripts/bench.py`` (HTTP vs raw-SQL throughput of the shop's hot paths)."""
