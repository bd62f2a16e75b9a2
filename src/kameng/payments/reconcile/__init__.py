"""对账 (reconciliation): a gateway's bill for one day against our payments."""
