from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from kameng.kit.money import format_yuan
from kameng.kit.timefmt import local
from kameng.orders.texts import event_label, status_label

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["yuan"] = format_yuan
templates.env.filters["local_time"] = local
templates.env.globals["status_label"] = status_label
templates.env.globals["event_label"] = event_label
