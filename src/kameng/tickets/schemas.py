"""Ticket shapes of the buyer JSON API (``/api/shop/…/tickets``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Generous transport limits only: the service's own rules (1 to 2,000 characters,
# no control characters; a contact of at most 120) give the precise message.
_MESSAGE = "what is wrong, or what you want to add (1 to 2,000 characters)"


class TicketOpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=4000, description=_MESSAGE)
    contact: str | None = Field(
        default=None, max_length=500, description="e-mail or phone, so support can reach you"
    )


class TicketMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=4000, description=_MESSAGE)


class TicketMessageOut(BaseModel):
    author: Literal["buyer", "operator"]
    body: str
    at: datetime


class TicketOut(BaseModel):
    ticket_no: str = Field(description="T and 13 digits; the lookup box finds it")
    status: Literal["open", "answered", "closed"]
    status_label: str = Field(description="the status in the request's language")
    order_no: str | None = Field(
        description="the order in full: only for the browser that placed it (its cookie, "
        "or its token in X-Order-Token); null otherwise"
    )
    masked_order_no: str = Field(description="e.g. 1234********3456")
    product_kind: str
    kind_label: str
    cause_text: str = Field(description="where the order stood when the ticket was opened")
    created_at: datetime
    may_follow_up: bool = Field(description="false once the ticket is closed")
    ticket_url: str
    messages: list[TicketMessageOut] = Field(description="oldest first")
