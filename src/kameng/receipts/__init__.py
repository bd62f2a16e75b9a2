"""E-mail receipts for buyers who gave a contact e-mail: the order number and its
link at creation, a link to the goods at delivery (never the goods themselves),
and a notice when money went back. See ``tasks.py`` for how a mail is sent at
most once."""
