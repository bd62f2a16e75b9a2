"""Catalogue: products and what is in stock."""
