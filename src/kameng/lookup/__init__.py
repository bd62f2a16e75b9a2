"""Finding an order from whatever the buyer has at hand."""
