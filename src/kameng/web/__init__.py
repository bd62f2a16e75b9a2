"""HTTP, grouped by audience: storefront, query, api_v1 (buyer JSON), notify."""
