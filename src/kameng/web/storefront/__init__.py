"""Buyer pages: catalogue, checkout, order page."""
