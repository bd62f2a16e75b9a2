"""Announcements: operators' notices with a time window and a scope (a product, a
supplier, a payment channel, or everything), shown on the storefront and on every
order they touch."""
