"""Buyer JSON API (/api/shop)."""
