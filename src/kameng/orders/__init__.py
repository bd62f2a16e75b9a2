"""Orders: numbers, the order state machine, the buyer's timeline."""
