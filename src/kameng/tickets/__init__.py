"""Support tickets: a buyer's request about one order, filled in from the order
page, answered by the operator (CLI now, console later); replies reach the
ticket view and the order's timeline."""
