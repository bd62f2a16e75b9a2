"""Risk review: paid orders that match a risk rule (an amount above a limit, a
contact paying too often) are held (``under_review``) instead of fulfilled,
until an operator approves (fulfilled then) or rejects (refunded)."""
