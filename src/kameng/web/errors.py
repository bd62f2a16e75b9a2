"""One place turns every error into a clear answer in the buyer's language.

JSON for /api and /notify, HTML elsewhere. Unexpected failures answer 503
(temporary, retry) with a reassuring message: nothing is ever answered 500.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kameng.kit.errors import DomainError, InvalidInput, NotFound
from kameng.kit.i18n import N_
from kameng.web.deps import translator_for
from kameng.web.responses import FastJSONResponse
from kameng.web.templating import templates
from kameng.web.validation import describe

log = structlog.get_logger()

METHOD_NOT_ALLOWED = N_("Method not allowed")
INTERNAL = N_("Temporary server error; your order and payment are safe, please retry shortly")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/notify/")) or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request, status: int, code: str, message: str, extra: dict[str, object] | None = None
) -> Response:
    if _wants_json(request):
        return FastJSONResponse(
            {"error": code, "message": message, **(extra or {})}, status_code=status
        )
    return templates.TemplateResponse(
        request,
        "error.html",
        {"message": message, "status": status},
        status_code=status,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        message = exc.translated(translator_for(request))
        return error_response(request, exc.status, exc.code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message = describe(exc.errors(), translator_for(request))
        return error_response(request, 422, InvalidInput.code, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        t = translator_for(request)
        if exc.status_code == 404:
            code, message = NotFound.code, t(NotFound.message)
        elif exc.status_code == 405:
            code, message = "method_not_allowed", t(METHOD_NOT_ALLOWED)
        else:
            code, message = InvalidInput.code, t(InvalidInput.message, detail=str(exc.detail))
        return error_response(request, exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return error_response(request, 503, "internal", translator_for(request)(INTERNAL))
