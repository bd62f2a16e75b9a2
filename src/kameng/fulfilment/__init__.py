"""Fulfilment: turning a paid order into goods, one strategy per product kind."""
