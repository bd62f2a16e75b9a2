"""JSON answers rendered with orjson: the same bytes as Starlette's JSONResponse
(compact, UTF-8, Chinese text unescaped) for what the shop sends, in a few
microseconds instead of tens.

What orjson refuses (integers beyond 64 bits, non-string keys) falls back to
Starlette's own rendering, so nothing that rendered before fails now.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel


class FastJSONResponse(JSONResponse):
    """``JSONResponse`` whose body orjson renders."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """A model the server itself built and validated, sent without the second
    validation FastAPI's ``response_model`` pass would give it; serialised by
    pydantic's core exactly as that pass serialises it (no aliases in our models)."""
    return Response(
        model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )
