"""``python -m kameng`` (how ``kameng run`` starts its children)."""

from kameng.cli import app

app()
