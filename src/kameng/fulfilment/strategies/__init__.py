"""Fulfilment strategies by product kind (card_key now; top-up, courier, manual later)."""
