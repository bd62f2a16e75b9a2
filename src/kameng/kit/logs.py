"""One log pipeline for the whole process: structlog events and stdlib records
(uvicorn, httpx, procrastinate) are rendered the same way, as JSON lines when
stdout is not a terminal and as a readable console line when it is.

Nothing secret may reach a log line. Two guards: libraries that print URLs
carrying secrets are kept quiet (httpx logs every request URL at INFO, and the
epay query URL carries the merchant ``key=``), and every rendered event passes
through ``redact``, which masks ``key=``/``sign=``/``password=`` style values
and any field whose name says it is secret.
"""

from __future__ import annotations

import json as stdlib_json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor

# Field names whose values never appear in a log line.
SECRET_FIELDS = frozenset(
    {"key", "secret", "password", "query_password", "token", "sign", "secret_key", "epay_key"}
)
# ``key=...`` in URLs, query strings and messages (the epay query API takes the key so).
_SECRET_IN_TEXT = re.compile(r"(?i)\b(key|sign|password|query_password|token|secret)=([^&\s\"']+)")
MASK = "***"

# Libraries whose INFO lines carry request URLs with secrets or are per-request noise.
QUIET_LOGGERS = {
    "httpx": logging.WARNING,  # "HTTP Request: GET …api.php?act=order&key=…"
    "httpcore": logging.WARNING,
    "uvicorn.access": logging.WARNING,  # our own request event replaces it
    # procrastinate logs every job start/end at INFO; our job event replaces those.
    "procrastinate": logging.WARNING,
}


def redact(_: Any, __: str, event: EventDict) -> EventDict:
    event.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    for name, value in event.items():
        if name in SECRET_FIELDS and value is not None:
            event[name] = MASK
        elif isinstance(value, str) and "=" in value:
            event[name] = _SECRET_IN_TEXT.sub(rf"\1={MASK}", value)
    return event


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


# datetimes and dataclasses go to structlog's fallback (repr) as with json.dumps.
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _dumps(event: Any, *, default: Any) -> str:
    """One JSON line with orjson (a few microseconds per request event instead of
    ~15); what orjson refuses (integers beyond 64 bits) through ``json.dumps``."""
    try:
        return orjson.dumps(event, default=default, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return stdlib_json.dumps(event, default=default, ensure_ascii=False)


def _renderer(json: bool) -> Processor:
    if json:
        return structlog.processors.JSONRenderer(serializer=_dumps)
    return structlog.dev.ConsoleRenderer(colors=False)


def formatter(*, json: bool) -> structlog.stdlib.ProcessorFormatter:
    """The stdlib formatter that renders structlog events and foreign records alike."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            _renderer(json),
        ],
    )


def configure_logging(
    level: int | str = logging.INFO,
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    cache: bool = True,
) -> logging.Handler:
    """Send structlog events and stdlib records to ``stream`` (stdout), rendered alike.

    ``json`` defaults to "stdout is not a terminal". structlog events take a
    direct path (no stdlib LogRecord: the per-request event costs a few tens of
    microseconds); stdlib records go through a handler with the same renderer.
    ``cache=False`` (tests) lets a later call redirect loggers already used.
    Returns that handler.
    """
    stream = stream or sys.stdout
    if json is None:
        json = not stream.isatty()
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            redact,
            _renderer(json),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(json=json))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn installs its own handlers; everything goes through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)
    return handler


def bind(**fields: Any) -> None:
    """Attach fields (e.g. ``order_no``) to every event of the current request or job."""
    structlog.contextvars.bind_contextvars(**fields)


def bound() -> MutableMapping[str, Any]:
    return structlog.contextvars.get_contextvars()
