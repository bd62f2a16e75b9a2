"""Sandbox twins of the outside services the shop talks to (e.g. 彩虹易支付)."""
