"""A protocol twin of WeChat Pay API v3 (微信支付), written independently of the
shop's adapter so that each checks the other. See ``app.py`` for the endpoints."""
